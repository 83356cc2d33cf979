"""PUB parsing and pricing (portal/execution/primitives.py) and the client's wire format
(quantum_hub_client.primitives): observables in every accepted form, parameter values
broadcast as Qiskit's BindingsArray, measurement groups, register bits, BitArray samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter, ParameterVector
from quantum_hub_client.primitives import _bitarray, _program

from portal.core.errors import ValidationFailed
from portal.execution import backends, primitives


def _two_state() -> QuantumCircuit:
    qc = QuantumCircuit(2)
    qc.rx(Parameter("a"), 0)
    qc.ry(Parameter("b"), 1)
    return qc


TWO = qasm3.dumps(_two_state().measure_all(inplace=False))
STATE = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\n'


def sampler(*pubs, shots=100):
    return primitives.parse_pubs("sampler", list(pubs), default_shots=shots)


def estimator(*pubs):
    return primitives.parse_pubs("estimator", list(pubs), default_shots=1)


def test_observables_in_every_form():
    read = primitives._observables
    assert read("ZZ", 0) == {"ZZ": 1.0}
    assert read({"ZZ": 1, "XX": 0.5}, 0) == {"ZZ": 1.0, "XX": 0.5}
    assert read([["ZZ", 1.0], ["XX", 0.5], ["ZZ", 1.0]], 0) == {"ZZ": 2.0, "XX": 0.5}
    assert read([["ZZ"], ["XX"]], 0) == [[{"ZZ": 1.0}], [{"XX": 1.0}]]
    assert read(["ZZ", {"XX": 2}], 0) == [{"ZZ": 1.0}, {"XX": 2.0}]
    for bad in ({"ZZ": "one"}, {}, [], 3, {"ZZ": True}):
        with pytest.raises(ValidationFailed) as caught:
            read(bad, 4)
        assert caught.value.details["pub"] == 4


def test_parameter_values_shapes_and_broadcasting():
    (grid,) = sampler([TWO, np.zeros((4, 3, 2)).tolist()])
    assert grid.qiskit.shape == (4, 3) and grid.size == 12
    (named,) = sampler([TWO, {"a": [[0.1, 0.2]], "b": [[0.3, 0.4]]}, 7])
    assert named.qiskit.shape == (1, 2) and named.qiskit.shots == 7
    (joint,) = sampler([TWO, {"a,b": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]}])
    assert joint.qiskit.shape == (3,)
    (pub,) = estimator([qasm3.dumps(_two_state()), [["ZZ"], ["XX"]], [[0.0, 0.0]] * 5])
    assert pub.qiskit.shape == (2, 5)  # observables (2, 1) against bindings (5,)
    with pytest.raises(ValidationFailed, match="missing: b"):
        sampler([TWO, {"a": [0.1]}])
    with pytest.raises(ValidationFailed, match="no values"):
        sampler([TWO])
    with pytest.raises(ValidationFailed, match="PUB 1"):
        sampler([TWO, [[0.1, 0.2]]], [TWO, [[0.1, 0.2, 0.3]]])
    with pytest.raises(ValidationFailed, match="finite"):
        sampler([TWO, [[math.inf, 0.0]]])


def test_priced_shots_follow_bindings_and_measurement_groups():
    sweep = sampler([TWO, np.zeros((10, 2)).tolist(), 300])
    assert primitives.billable_shots("sampler", sweep, device_like=False) == [3000]
    commuting = estimator([STATE, ["ZZ", "ZI", "IZ"], None, 0.1])
    assert primitives.estimator_shots(commuting[0]) == (1, 100)  # one group, 1/0.1^2 shots
    two_groups = estimator([STATE, {"ZZ": 1, "XX": 1}, None, 0.05])
    assert primitives.billable_shots("estimator", two_groups, device_like=True) == [800]
    assert primitives.billable_shots("estimator", two_groups, device_like=False) == [1]


def test_limits_name_themselves():
    with pytest.raises(ValidationFailed) as caught:
        sampler(*[[STATE]] * (primitives.MAX_PUBS + 1))
    assert caught.value.code == "limit_exceeded" and caught.value.details["limit"] == "max_pubs"
    with pytest.raises(ValidationFailed) as caught:
        sampler([TWO, np.zeros((primitives.MAX_BINDINGS + 1, 2)).tolist()])
    assert caught.value.details["limit"] == "max_bindings"
    assert caught.value.details["value"] == primitives.MAX_BINDINGS + 1
    with pytest.raises(ValidationFailed, match="float or angle"):
        primitives.parse_parametric(
            'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput int n;\nqubit q;\nx q;\n'
        )


def test_register_bits_and_seed_bounds():
    assert primitives._value(0b1011, [0, 1]) == 0b11
    assert primitives._value(0b1011, [2, 3]) == 0b10
    assert primitives._value(0b1011, [3, 0]) == 0b11
    assert primitives.check_seed(None) is None and primitives.check_seed(5) == 5
    for bad in (-1, 2**63, True, 1.5, "7"):
        with pytest.raises(ValidationFailed):
            primitives.check_seed(bad)


def test_noise_model_version_names_the_noise():
    assert backends.noise_model_version("aer-simulator", {"method": "automatic"}).startswith(
        "noiseless (qiskit-aer "
    )
    config = {"device": True, "noise": {"t1_us": 100}, "basis_gates": ["cx"], "coupling_map": []}
    one = backends.noise_model_version("falcon-27-noisy", config)
    assert one == backends.noise_model_version("falcon-27-noisy", dict(config))
    changed = {**config, "noise": {"t1_us": 90}}
    assert backends.noise_model_version("falcon-27-noisy", changed) != one
    assert len(one) <= 64


def test_client_wire_format_renames_parameters_in_order():
    theta = ParameterVector("theta", 11)  # theta[10] sorts after theta[9], as p0010 after p0009
    qc = QuantumCircuit(1)
    for p in theta:
        qc.rz(p, 0)
    source, params = _program(qc)
    assert params == list(qc.parameters)
    circuit = primitives.parse_parametric(source)
    assert [p.name for p in circuit.parameters] == [f"p{i:04d}" for i in range(11)]


def test_client_samples_become_a_bitarray():
    samples = [["0x0", "0x3", "0x3"], ["0x1", "0x1", "0x2"]]
    bits = _bitarray(samples, 2, (2,))
    assert bits.shape == (2,) and bits.num_shots == 3 and bits.num_bits == 2
    assert bits.get_counts(0) == {"00": 1, "11": 2}
    assert bits.get_counts(1) == {"01": 2, "10": 1}
    wide = _bitarray(["0x1ff"], 9, ())
    assert wide.get_counts() == {"111111111": 1}


def test_client_parameter_binds_become_inputs():
    from quantum_hub_client.backend import _bindings

    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(1, name="two")
    qc.rx(a, 0)
    qc.ry(b, 0)
    binds = {a: [0.1, 0.2], "b": np.array([1.0, 2.0])}  # a Parameter or its name
    assert _bindings(qc, binds) == [{"p0000": 0.1, "p0001": 1.0}, {"p0000": 0.2, "p0001": 2.0}]
    assert _bindings(qc, {a: 0.5, b: 1}) == [{"p0000": 0.5, "p0001": 1.0}]  # one binding
    with pytest.raises(ValueError, match="same"):
        _bindings(qc, {a: [1.0, 2.0], b: [1.0]})
    with pytest.raises(ValueError, match="missing"):
        _bindings(qc, {a: [1.0]})
    with pytest.raises(ValueError, match="parameter_binds"):
        _bindings(qc, None)
    assert _bindings(QuantumCircuit(1), None) == [{}]
    with pytest.raises(ValueError, match="no parameters"):
        _bindings(QuantumCircuit(1), {a: [1.0]})
