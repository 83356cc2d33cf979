"""Programs: OpenQASM 2 and 3 source in, a Qiskit circuit out, with errors that say where.

This is the one place the portal reads user programs (jobs, the IDE, app versions). Qiskit
is imported lazily, the first time a program is parsed, so a web process that never parses
one never pays the ~0.35 s import; Python's module cache makes that once per process.

Rules:
- OpenQASM 2 as written in the wild loads: ``qelib1.inc`` and the legacy gates (u1, u2, u3,
  cu1, cu3, rxx, ...) through Qiskit's ``LEGACY_CUSTOM_INSTRUCTIONS``.
- OpenQASM 3 ``input`` declarations are bound from JSON before conversion: the declaration is
  blanked out (line numbers are kept) and each use of the name is replaced by a literal, so
  ``int``/``uint``/``bool`` inputs work too (the Qiskit importer alone takes float/angle only).
- Only the standard includes are allowed: anything else could read files on the server.
- Programs over ``MAX_PROGRAM_BYTES`` are refused before parsing.
"""

from __future__ import annotations

import math
import re
import threading
from typing import TYPE_CHECKING, Any

# Qiskit is imported once, when the app loads (on the main thread): imported first inside a
# request thread that then exits (Werkzeug starts one per request), the next parse in another
# thread segfaults in qiskit.qasm2 (Qiskit 2.6 / PyO3). ~0.35 s once per process.
import qiskit.qasm2  # noqa: F401

from portal.core.errors import ValidationFailed

if TYPE_CHECKING:  # pragma: no cover
    from qiskit import QuantumCircuit

MAX_PROGRAM_BYTES = 64 * 1024
FORMATS = ("qasm2", "qasm3")
ALLOWED_INCLUDES = {"qasm2": {"qelib1.inc"}, "qasm3": {"stdgates.inc"}}

# Qiskit's native parsers crashed (segfault) when two web threads parsed at once on first use;
# parsing a program takes milliseconds, so one at a time per process costs nothing.
_PARSE_LOCK = threading.Lock()

# QASM 3 input types the portal can bind, and their JSON schema type.
# Integer inputs are bound as 64-bit literals (10**400 would overflow the simulator).
INPUT_INT_RANGE = {"int": (-(2**63), 2**63 - 1), "uint": (0, 2**64 - 1)}
INPUT_TYPES = {
    "float": "number",
    "angle": "number",
    "int": "integer",
    "uint": "integer",
    "bool": "boolean",
}


class ProgramError(ValidationFailed):
    """The program cannot be read: says what is wrong and where (1-based line and column)."""

    code = "program_error"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        fmt: str | None = None,
    ):
        where = ""
        if line is not None:
            where = f" at line {line}" + (f", column {column}" if column is not None else "")
        super().__init__(
            f"Program error{where}: {message}",
            details={"line": line, "column": column, "format": fmt},
        )
        self.line, self.column, self.format = line, column, fmt


class InputError(ValidationFailed):
    """The JSON inputs do not match the program's ``input`` declarations."""

    code = "invalid_inputs"


# -- tokenising (comments and strings must never be mistaken for code) ------------------------

_TOKEN = re.compile(
    r"(?P<block>/\*.*?\*/)|(?P<line>//[^\n]*)|(?P<string>\"[^\"\n]*\")"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<other>.)",
    re.DOTALL,
)
_HEADER = re.compile(r"\s*OPENQASM\s+([0-9]+)(?:\.([0-9]+))?\s*;")
_INCLUDE = re.compile(r"include\s*\"([^\"]*)\"\s*;")
_INPUT_DECL = re.compile(
    r"input\s+(?P<type>[A-Za-z_]+)\s*(?:\[[^\]]*\])?\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*;"
)


def _code_only(source: str) -> str:
    """The source with comments replaced by spaces (newlines kept, so positions hold)."""
    out = []
    for match in _TOKEN.finditer(source):
        text = match.group(0)
        if match.lastgroup in ("block", "line"):
            text = re.sub(r"[^\n]", " ", text)
        out.append(text)
    return "".join(out)


def _position(source: str, offset: int) -> tuple[int, int]:
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _check_size(source: str) -> None:
    if not isinstance(source, str):
        raise ProgramError("the program must be text (a string of OpenQASM source).")
    size = len(source.encode("utf-8"))
    if size > MAX_PROGRAM_BYTES:
        raise ProgramError(
            f"the program is {size} bytes; the limit is {MAX_PROGRAM_BYTES} bytes "
            f"({MAX_PROGRAM_BYTES // 1024} KiB). Split it or generate less code."
        )


def detect_format(source: str, fmt: str | None = None) -> str:
    """``"qasm2"`` or ``"qasm3"`` from the ``OPENQASM x.y;`` header (comments allowed before).

    A program without the header is read as ``fmt`` when the caller names the format (what
    ``qiskit.qasm2.loads`` accepts, and the header is optional in OpenQASM 3); without a
    format the header is what tells the two apart, so it is required."""
    _check_size(source)
    match = _HEADER.match(_code_only(source))
    if match is None and fmt in FORMATS:
        return fmt
    if match is None:
        raise ProgramError(
            "the program must start with a header: 'OPENQASM 2.0;' or 'OPENQASM 3.0;'.",
            line=1,
            column=1,
        )
    major = match.group(1)
    if major == "2":
        return "qasm2"
    if major == "3":
        return "qasm3"
    line, column = _position(source, match.start(1))
    raise ProgramError(
        f"OpenQASM version {major} is not supported; use 2.0 or 3.0.", line=line, column=column
    )


def _check_includes(code: str, fmt: str) -> None:
    for match in _INCLUDE.finditer(code):
        name = match.group(1)
        if name not in ALLOWED_INCLUDES[fmt]:
            line, column = _position(code, match.start())
            allowed = ", ".join(sorted(ALLOWED_INCLUDES[fmt]))
            raise ProgramError(
                f'include "{name}" is not available; only {allowed} can be included in '
                f"{'OpenQASM 2' if fmt == 'qasm2' else 'OpenQASM 3'}. Paste the gate "
                "definitions into the program instead.",
                line=line,
                column=column,
                fmt=fmt,
            )


# Bounds checked on the text, before Qiskit sees it: the parsers allocate every declared qubit
# and (OpenQASM 3) inline every gate call, so a one-line program could otherwise hang or
# exhaust a web process. Far above any device in the catalogue (the largest has 1,000 qubits).
MAX_REGISTER_SIZE = 10_000
MAX_EXPANDED_GATES = 1_000_000  # operations one call of a user-defined gate may expand into
MAX_LOOP_ITERATIONS = 100_000
_REGISTER = re.compile(r"\b(?:qreg|creg)\s+[A-Za-z_]\w*\s*\[\s*(\d+)|\b(?:qubit|bit)\s*\[\s*(\d+)")
_GATE_DEF = re.compile(r"\bgate\s+([A-Za-z_]\w*)[^{;]*\{([^{}]*)\}")
_CALL = re.compile(r"(?:^|[;{}])\s*([A-Za-z_]\w*)")
_FOR_RANGE = re.compile(r"\bfor\s+[^;{]*?\bin\s*\[\s*(-?\d+)\s*:\s*(-?\d+)(?:\s*:\s*(-?\d+))?")


def _check_resources(code: str, fmt: str) -> None:
    """Refuse huge registers, exponentially nested gate definitions and huge loops."""

    def refuse(message: str, offset: int) -> None:
        line, column = _position(code, offset)
        raise ProgramError(message, line=line, column=column, fmt=fmt)

    for match in _REGISTER.finditer(code):
        size = int(match.group(1) or match.group(2))
        if size > MAX_REGISTER_SIZE:
            refuse(
                f"a register of {size} bits is too large; the limit is {MAX_REGISTER_SIZE}.",
                match.start(),
            )
    bodies = {m.group(1): (m.group(2), m.start()) for m in _GATE_DEF.finditer(code)}
    expanded: dict[str, int] = {}
    for name in bodies:  # definitions come before use, so callees are sized first
        body, start = bodies[name]
        total = sum(expanded.get(call, 1) for call in _CALL.findall(body))
        if total > MAX_EXPANDED_GATES:
            refuse(
                f"gate {name} expands to more than {MAX_EXPANDED_GATES} operations; nest "
                "fewer definitions.",
                start,
            )
        expanded[name] = max(total, 1)
    for match in _FOR_RANGE.finditer(code):
        start, second, third = (int(g) if g else None for g in match.groups())
        stop, step = (third, second) if third is not None else (second, 1)  # [start:step:stop]
        count = abs(stop - start) // max(abs(step), 1) + 1
        if count > MAX_LOOP_ITERATIONS:
            refuse(
                f"a loop of {count} iterations is too long; the limit is {MAX_LOOP_ITERATIONS}.",
                match.start(),
            )


# -- inputs ----------------------------------------------------------------------------------


def _input_declarations(source: str) -> list[tuple[str, str, re.Match]]:
    """(name, qasm type, match) for each ``input`` declaration, in order."""
    code = _code_only(source)
    declarations = []
    for match in re.finditer(r"\binput\b", code):
        decl = _INPUT_DECL.match(code, match.start())
        line, column = _position(code, match.start())
        if decl is None:
            raise ProgramError(
                "an input declaration must look like 'input float theta;'.",
                line=line,
                column=column,
                fmt="qasm3",
            )
        qasm_type = decl.group("type")
        if qasm_type not in INPUT_TYPES:
            raise ProgramError(
                f"input '{decl.group('name')}' has type {qasm_type}; inputs can be "
                f"{', '.join(INPUT_TYPES)}.",
                line=line,
                column=column,
                fmt="qasm3",
            )
        declarations.append((decl.group("name"), qasm_type, decl))
    return declarations


def input_schema(source: str) -> dict[str, Any]:
    """The JSON schema of a QASM 3 program's ``input`` declarations (empty for QASM 2)."""
    schema: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    if detect_format(source) == "qasm2":
        return schema
    for name, qasm_type, _ in _input_declarations(source):
        schema["properties"][name] = {"type": INPUT_TYPES[qasm_type], "x-qasm-type": qasm_type}
        schema["required"].append(name)
    schema["additionalProperties"] = False
    return schema


def _literal(name: str, qasm_type: str, value: Any) -> str:
    """The QASM 3 literal for ``value``, or InputError saying what type was expected."""
    kind = INPUT_TYPES[qasm_type]
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InputError(
                f"Input '{name}' must be true or false (a JSON boolean).",
                details={name: f"expected boolean, got {type(value).__name__}"},
            )
        return "true" if value else "false"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(
            f"Input '{name}' must be a{'n integer' if kind == 'integer' else ' number'}.",
            details={name: f"expected {kind}, got {type(value).__name__}"},
        )
    if kind == "integer":
        if isinstance(value, float):
            if not value.is_integer():
                raise InputError(
                    f"Input '{name}' must be a whole number (got {value}).",
                    details={name: "expected integer"},
                )
            value = int(value)
        if qasm_type == "uint" and value < 0:
            raise InputError(
                f"Input '{name}' is a uint and cannot be negative (got {value}).",
                details={name: "expected a non-negative integer"},
            )
        low, high = INPUT_INT_RANGE[qasm_type]
        if not low <= value <= high:
            raise InputError(
                f"Input '{name}' is out of range: a 64-bit {qasm_type} is from {low} to {high}.",
                details={name: f"integer from {low} to {high}"},
            )
        return f"({value})" if value < 0 else str(value)
    try:
        number = float(value)  # 10**400 overflows
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InputError(
            f"Input '{name}' must be a finite number (at most about 1.8e308 in size).",
            details={name: "not finite"},
        )
    text = repr(number)
    return f"({text})" if value < 0 else text


def bind_inputs(source: str, inputs: dict[str, Any] | None) -> str:
    """The QASM 3 source with its inputs replaced by literals (line numbers unchanged)."""
    declarations = _input_declarations(source)
    inputs = dict(inputs or {})
    if not isinstance(inputs, dict):  # pragma: no cover - guarded by callers' schemas
        raise InputError("Inputs must be a JSON object of name → value.")
    declared = {name: qasm_type for name, qasm_type, _ in declarations}
    unknown = sorted(set(inputs) - set(declared))
    missing = [name for name in declared if name not in inputs]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing input(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown input(s): {', '.join(unknown)}")
        expected = ", ".join(f"{n} ({t})" for n, t in declared.items()) or "none"
        details = {name: "required" for name in missing}
        details.update({name: "not an input of this program" for name in unknown})
        raise InputError(
            f"{'; '.join(parts).capitalize()}. The program takes: {expected}.", details=details
        )
    literals = {name: _literal(name, declared[name], inputs[name]) for name in declared}
    if not literals:
        return source
    code = _code_only(source)
    # Blank each declaration, keeping newlines so error positions still match the source.
    spans = [(decl.start(), decl.end()) for _, _, decl in declarations]
    out, cursor = [], 0
    for start, end in spans:
        out.append(code[cursor:start])
        out.append(re.sub(r"[^\n]", " ", code[start:end]))
        cursor = end
    out.append(code[cursor:])
    blanked = "".join(out)
    pieces = []
    for match in _TOKEN.finditer(blanked):
        text = match.group(0)
        if match.lastgroup == "ident" and text in literals:
            text = literals[text]
        pieces.append(text)
    return "".join(pieces)


# -- parsing ---------------------------------------------------------------------------------


def _parse_qasm2(source: str) -> QuantumCircuit:
    # Deferred: Qiskit is heavy, imported on first use.
    import qiskit.qasm2 as qasm2

    try:
        return qasm2.loads(
            source,
            include_path=(),
            custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
            strict=False,
        )
    except qasm2.QASM2ParseError as exc:
        line, column, text = _qasm2_position(str(exc))
        if line is not None:
            raise ProgramError(text, line=line, column=column, fmt="qasm2") from None
        raise ProgramError(text, fmt="qasm2") from None


# qiskit.qasm2 puts the position first, 1-based line and 0-based column: "<input>:8,5: ...".
# The message comes quoted with ' or " (Rust's Debug of the string), depending on its content.
_QASM2_POSITION = re.compile(r"^(?:<input>|[^:\n]*):(\d+),(\d+):\s*(.*)$", re.DOTALL)


def _qasm2_position(raw: str) -> tuple[int | None, int | None, str]:
    """(line, column, message) from a qiskit.qasm2 error: 1-based line and column, and the
    message without its ``<input>:L,C:`` prefix or quotes."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    match = _QASM2_POSITION.match(text)
    if match is None:
        return None, None, text.replace("<input>: ", "").strip()
    return int(match.group(1)), int(match.group(2)) + 1, match.group(3).strip()


class _Syntax(Exception):
    def __init__(self, line: int, column: int, message: str):
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


def _openqasm3_parse(source: str):
    """openqasm3.parse, but the first syntax error raises with its line, column and
    ANTLR's message (the library's own bail strategy loses them and prints to stderr)."""
    # Deferred: the OpenQASM 3 parser is heavy, imported on first use.
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.error.ErrorListener import ErrorListener
    from openqasm3._antlr.qasm3Lexer import qasm3Lexer
    from openqasm3._antlr.qasm3Parser import qasm3Parser
    from openqasm3.parser import QASMNodeVisitor

    class Raise(ErrorListener):
        def syntaxError(self, recognizer, offendingSymbol, line, column, msg, e):
            raise _Syntax(line, column + 1, msg)

    lexer = qasm3Lexer(InputStream(source))
    lexer.removeErrorListeners()
    lexer.addErrorListener(Raise())
    parser = qasm3Parser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(Raise())
    tree = parser.program()
    return QASMNodeVisitor().visitProgram(tree)


def _parse_qasm3(source: str) -> QuantumCircuit:
    # Deferred: Qiskit's QASM 3 importer is heavy, imported on first use.
    from qiskit_qasm3_import import ConversionError, convert

    try:
        program = _openqasm3_parse(source)
    except _Syntax as exc:
        message = exc.message.replace("<EOF>", "the end of the program")
        raise ProgramError(message, line=exc.line, column=exc.column, fmt="qasm3") from None
    except Exception as exc:  # the AST builder rejects some parsed-but-invalid forms
        raise ProgramError(
            str(exc) or "the program is not valid OpenQASM 3.", fmt="qasm3"
        ) from None
    try:
        return convert(program)
    except ConversionError as exc:
        text = str(exc)
        match = re.match(r"(\d+),(\d+):\s*(.*)", text, re.DOTALL)
        if match:
            raise ProgramError(
                match.group(3).strip(),
                line=int(match.group(1)),
                column=int(match.group(2)) + 1,
                fmt="qasm3",
            ) from None
        line, column = _failing_statement(program)
        raise ProgramError(text, line=line, column=column, fmt="qasm3") from None
    except RecursionError:  # pragma: no cover - pathological nesting
        raise ProgramError("the program is nested too deeply.", fmt="qasm3") from None
    except Exception as exc:  # Qiskit's circuit checks (bad index, repeated qubit, ...)
        line, column = _failing_statement(program)
        text = str(exc).strip("'\"") or type(exc).__name__
        raise ProgramError(
            f"{text} (the statement cannot be converted to a circuit)",
            line=line,
            column=column,
            fmt="qasm3",
        ) from None


def _failing_statement(program) -> tuple[int | None, int | None]:
    """Line and column of the first top-level statement the converter fails on, found by
    converting ever longer prefixes of the program (binary search: a few conversions of a
    program already parsed). For errors that come without a position."""
    # Deferred: the OpenQASM 3 parser is heavy, imported on first use.
    from openqasm3.ast import Program
    from qiskit_qasm3_import import convert

    statements = program.statements

    def fails(count: int) -> bool:
        try:
            convert(Program(statements=statements[:count], version=program.version))
        except Exception:
            return True
        return False

    low, high = 1, len(statements)  # the whole program fails; find the shortest failing prefix
    if not statements or not fails(high):
        return None, None
    while low < high:
        middle = (low + high) // 2
        if fails(middle):
            high = middle
        else:
            low = middle + 1
    span = getattr(statements[low - 1], "span", None)
    if span is None:
        return None, None
    return span.start_line, span.start_column + 1


def parse_program(
    source: str, fmt: str | None = None, inputs: dict[str, Any] | None = None
) -> QuantumCircuit:
    """A Qiskit circuit from OpenQASM 2 or 3 source, or ProgramError / InputError.

    ``fmt`` ("qasm2" | "qasm3") must match the header when given. ``inputs`` binds QASM 3
    ``input`` declarations; a QASM 2 program takes none.
    """
    detected = detect_format(source, fmt)
    if fmt is not None and fmt not in FORMATS:
        raise ProgramError(f"unknown format {fmt!r}; use 'qasm2' or 'qasm3'.")
    if fmt is not None and fmt != detected:
        header = _HEADER.match(_code_only(source))
        line, column = _position(source, header.start(1)) if header else (1, 1)
        raise ProgramError(
            f"the format is {fmt} but the header says {detected}; make them agree.",
            line=line,
            column=column,
            fmt=fmt,
        )
    code = _code_only(source)
    _check_includes(code, detected)
    _check_resources(code, detected)
    if detected == "qasm2":
        if inputs:
            raise InputError(
                "OpenQASM 2 programs take no inputs; remove them or write the program in "
                "OpenQASM 3 with 'input' declarations.",
                details={name: "not an input of this program" for name in inputs},
            )
        with _PARSE_LOCK:
            return _parse_qasm2(source)
    bound = bind_inputs(source, inputs)
    with _PARSE_LOCK:
        return _parse_qasm3(bound)


# Gates the stabilizer method simulates (Clifford operations, plus measurement and friends).
CLIFFORD = {
    "h", "x", "y", "z", "s", "sdg", "sx", "sxdg", "cx", "cy", "cz", "swap", "id",
    "measure", "reset", "barrier", "delay",
}  # fmt: skip


def _two_qubit_span(circuit: QuantumCircuit) -> int:
    """The widest reach of a multi-qubit gate: 1 when every such gate acts on neighbouring
    qubits (a line), 0 when there are none. Control flow counts as spanning its qubits."""
    span = 0
    for instruction in circuit.data:
        if len(instruction.qubits) < 2 or instruction.operation.name in ("barrier", "measure"):
            continue
        indices = [circuit.find_bit(q).index for q in instruction.qubits]
        span = max(span, max(indices) - min(indices))
    return span


def resource_figures(circuit: QuantumCircuit) -> dict[str, Any]:
    """Qubits, classical bits, depth, size and per-gate counts of a circuit; whether it is
    Clifford-only (``clifford``) and how far its multi-qubit gates reach (``two_qubit_span``)
    — what the simulation method is chosen from (``portal.execution.backends.choose_method``)."""
    gate_counts = {str(name): int(n) for name, n in circuit.count_ops().items()}
    return {
        "qubits": circuit.num_qubits,
        "clbits": circuit.num_clbits,
        "depth": circuit.depth(),
        "size": circuit.size(),
        "gate_counts": gate_counts,
        "clifford": set(gate_counts) <= CLIFFORD,
        "two_qubit_span": _two_qubit_span(circuit),
    }
