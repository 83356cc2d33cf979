/*
 * Quantum Hub code editor (CodeMirror 6), bundled by ../build.mjs with esbuild
 * into static/editor/editor.js (minified IIFE, one file, no CSS file needed:
 * CodeMirror injects its own styles).
 *
 * Usage in a page:
 *   <script src="/static/editor/editor.js"></script>
 *   const ed = window.QHEditor.create(document.getElementById("editor"), {
 *     doc: "OPENQASM 2.0;\n",     // initial text
 *     language: "openqasm",       // "openqasm" (default) or "plain"
 *     onChange(text) {},          // after every document change (incl. setValue)
 *     onSave(text) {},            // Ctrl-S / Cmd-S (browser save is prevented)
 *     onRun(text) {},             // Ctrl-Enter / Cmd-Enter
 *     ariaLabel: "Circuit source" // optional accessible name of the text area
 *   });
 *   ed.getValue(); ed.setValue(text); ed.focus();
 *   ed.setDiagnostics([{line: 3, column: 5, message: "unknown gate"}]); // 1-based
 *   ed.setDiagnostics([]);        // clear
 *   ed.destroy();                 // detach from the page
 */
import { EditorState, Prec } from "@codemirror/state";
import {
  EditorView,
  keymap,
  lineNumbers,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  drawSelection,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import {
  StreamLanguage,
  bracketMatching,
  syntaxHighlighting,
  defaultHighlightStyle,
  HighlightStyle,
  indentOnInput,
} from "@codemirror/language";
import { tags } from "@lezer/highlight";
import { setDiagnostics, lintGutter, lintKeymap } from "@codemirror/lint";

function wordSet(words) {
  return new Set(words.split(/\s+/).filter(Boolean));
}

const KEYWORDS = wordSet(`
  OPENQASM include qreg creg qubit bit gate opaque measure reset barrier if else
  input output const def defcal defcalgrammar cal for in while break continue
  return let end box delay extern gphase ctrl negctrl inv pow
  float int uint angle bool complex duration stretch array
`);
const GATES = wordSet(`
  h x y z cx cy cz ch ccx crx cry crz cu cu1 cu3 cswap rx ry rz rxx rzz
  u u0 u1 u2 u3 U CX p cp swap s sdg t tdg sx sxdg id
`);
const ATOMS = wordSet(`true false pi π tau τ euler ℇ`);

/* A small OpenQASM 2/3 mode for StreamLanguage. */
const openqasmMode = {
  name: "openqasm",
  startState() {
    return { inComment: false };
  },
  token(stream, state) {
    if (!state.inComment) {
      if (stream.eatSpace()) return null;
      if (stream.match("//")) {
        stream.skipToEnd();
        return "comment";
      }
      if (stream.match("/*")) state.inComment = true;
    }
    if (state.inComment) {
      if (stream.skipTo("*/")) {
        stream.pos += 2;
        state.inComment = false;
      } else {
        stream.skipToEnd();
      }
      return "comment";
    }
    const ch = stream.peek();
    if (ch === '"' || ch === "'") {
      stream.next();
      let escaped = false;
      let c;
      while ((c = stream.next()) != null) {
        if (c === ch && !escaped) break;
        escaped = !escaped && c === "\\";
      }
      return "string";
    }
    if (
      stream.match(/^(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?(?:im|ns|us|µs|ms|s|dt)?(?![\w.])/)
    ) {
      return "number";
    }
    if (stream.match(/^#pragma\b.*/) || stream.match(/^@[\w.]+/)) return "meta";
    if (stream.match(/^\$\d+/)) return "variableName.special";
    if (stream.match(/^[A-Za-z_\u00c0-\uffff][\w\u00c0-\uffff]*/)) {
      const word = stream.current();
      if (KEYWORDS.has(word)) return "keyword";
      if (GATES.has(word)) return "builtin";
      if (ATOMS.has(word)) return "atom";
      return "variableName";
    }
    if (stream.match(/^(?:->|==|!=|<=|>=|&&|\|\||<<|>>|\*\*|\+\+|[-+*\/%=<>!&|^~])/)) {
      return "operator";
    }
    stream.next();
    return null;
  },
  languageData: {
    commentTokens: { line: "//", block: { open: "/*", close: "*/" } },
  },
};

export const openqasm = StreamLanguage.define(openqasmMode);

/* Colours for what defaultHighlightStyle leaves plain ("builtin" = gate names). */
const qasmHighlightStyle = HighlightStyle.define([
  { tag: tags.standard(tags.variableName), color: "#0550ae", fontWeight: "600" },
  { tag: tags.number, color: "#164" },
  { tag: tags.operator, color: "#555" },
]);

/* Convert a 1-based {line, column} to a document range covering the token there. */
function diagnosticRange(doc, line, column) {
  const ln = doc.line(Math.min(Math.max(1, Math.floor(Number(line)) || 1), doc.lines));
  const col = Math.max(1, Math.floor(Number(column)) || 1);
  const text = ln.text;
  if (text.length === 0) return { from: ln.from, to: ln.from };
  let start = Math.min(col - 1, text.length - 1);
  let end = start;
  const isWord = (c) => /[\w$.]/.test(c);
  if (isWord(text[start])) {
    while (end < text.length && isWord(text[end])) end++;
  } else {
    end = start + 1;
  }
  return { from: ln.from + start, to: ln.from + end };
}

function create(parent, options = {}) {
  if (!parent) throw new Error("QHEditor.create: a parent element is required");
  const opts = options || {};
  const call = (name, view) => {
    const fn = opts[name];
    if (typeof fn === "function") fn(view.state.doc.toString());
  };

  // "Mod" is Cmd on macOS and Ctrl elsewhere; Ctrl is also bound on macOS.
  const bind = (key, handler) => ({
    key,
    preventDefault: true,
    run(view) {
      call(handler, view);
      return true;
    },
  });
  const shortcuts = Prec.highest(
    keymap.of([
      bind("Mod-s", "onSave"),
      bind("Ctrl-s", "onSave"),
      bind("Mod-Enter", "onRun"),
      bind("Ctrl-Enter", "onRun"),
    ])
  );

  const lang = (opts.language || "openqasm").toLowerCase();
  const languageExt =
    lang === "openqasm" || lang === "qasm" || lang === "openqasm2" || lang === "openqasm3"
      ? [
          openqasm,
          syntaxHighlighting(qasmHighlightStyle),
          syntaxHighlighting(defaultHighlightStyle),
        ]
      : [];

  const state = EditorState.create({
    doc: opts.doc == null ? "" : String(opts.doc),
    extensions: [
      shortcuts,
      lineNumbers(),
      highlightActiveLineGutter(),
      highlightSpecialChars(),
      history(),
      drawSelection(),
      indentOnInput(),
      bracketMatching(),
      highlightActiveLine(),
      lintGutter(),
      keymap.of([...defaultKeymap, ...historyKeymap, ...lintKeymap]),
      languageExt,
      // tabindex: the text area is in the tab order explicitly, so a long file's scrolling
      // region has keyboard access (axe: scrollable-region-focusable).
      EditorView.contentAttributes.of({
        "aria-label": opts.ariaLabel || "Code editor",
        tabindex: "0",
      }),
      EditorView.theme({
        "&": { height: "100%", fontSize: "14px" },
        ".cm-scroller": {
          fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
          overflow: "auto",
        },
      }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) call("onChange", update.view);
      }),
    ],
  });

  const view = new EditorView({ state, parent });

  return {
    view,
    getValue() {
      return view.state.doc.toString();
    },
    setValue(text) {
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: text == null ? "" : String(text) },
      });
    },
    setDiagnostics(list) {
      const doc = view.state.doc;
      const diagnostics = (list || []).map((d) => {
        const { from, to } = diagnosticRange(doc, d.line, d.column);
        return { from, to, severity: "error", message: String(d.message ?? "") };
      });
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
    focus() {
      view.focus();
    },
    destroy() {
      view.destroy();
    },
  };
}

const QHEditor = { create, version: "1" };
if (typeof window !== "undefined") window.QHEditor = QHEditor;
export default QHEditor;
