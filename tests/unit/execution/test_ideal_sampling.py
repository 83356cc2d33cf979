"""The sampler's NumPy path (portal/execution/primitives.py): on a noiseless entry a circuit
measured only at its end gets each binding's final-state probabilities from one Aer run and
its shots from a seeded NumPy Generator. Its counts follow Aer's (and the exact) distribution,
registers, partial measurement and never-measured clbits map as Aer maps them, memory is the
shots in order, seeds reproduce, shapes broadcast; noisy entries and circuits that measure
before their end keep Aer's shots. Seeds are fixed: every figure here is deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm3
from qiskit.circuit import Parameter
from qiskit.quantum_info import Statevector

from portal.execution import primitives

PLAIN = {"method": "automatic"}
NOISY = {"method": "automatic", "device": True, "generic": {"num_qubits": 5, "seed": 42}}


def sweep_circuit() -> QuantumCircuit:
    theta = Parameter("theta")
    qc = QuantumCircuit(3)
    qc.ry(theta, 0)
    qc.cx(0, 1)
    qc.rx(2 * theta + 0.3, 2)
    qc.h(1)
    return qc


def run(pubs, config=PLAIN, *, memory=False, seed=None, name="aer-simulator"):
    outcome = primitives.run_primitive("sampler", pubs, name, config, memory=memory, seed=seed)
    return outcome, outcome.extra["results"]


def aer_only(monkeypatch):
    monkeypatch.setattr(primitives, "_ideal_plan", lambda *args, **kwargs: None)


def exact(circuit: QuantumCircuit, value: float) -> dict[str, float]:
    bound = circuit.assign_parameters([value])
    return Statevector(bound).probabilities_dict()


def within(count: int, shots: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(count - shots * p) <= sigmas * math.sqrt(shots * p * (1 - p)) + 1


def test_numpy_counts_follow_aer_and_the_exact_distribution(monkeypatch):
    circuit = sweep_circuit()
    source = qasm3.dumps(circuit.measure_all(inplace=False))
    thetas, shots = [0.0, 0.4, 1.1, 2.0, 3.0], 4000
    _, numpy_results = run([[source, thetas, shots]], seed=11)
    aer_only(monkeypatch)
    _, aer_results = run([[source, thetas, shots]], seed=11)
    assert numpy_results[0]["metadata"]["sampling"] == "numpy"
    assert aer_results[0]["metadata"]["sampling"] == "aer"
    ours, theirs = (r[0]["data"]["meas"]["counts"] for r in (numpy_results, aer_results))
    for k, theta in enumerate(thetas):
        probabilities = exact(circuit, theta)
        assert sum(ours[k].values()) == shots == sum(theirs[k].values())
        assert set(ours[k]) <= {key for key, p in probabilities.items() if p > 1e-12}
        for key, p in probabilities.items():
            mine, aers = ours[k].get(key, 0), theirs[k].get(key, 0)
            assert within(mine, shots, p) and within(aers, shots, p), (theta, key)
            spread = 5 * math.sqrt(2 * shots * p * (1 - p)) + 2
            assert abs(mine - aers) <= spread, (theta, key, mine, aers)


def test_registers_partial_measurement_and_unmeasured_clbits_map_as_aer_maps_them(monkeypatch):
    q = QuantumRegister(4, "q")
    a, b = ClassicalRegister(3, "a"), ClassicalRegister(2, "b")
    qc = QuantumCircuit(q, a, b)
    qc.x(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure(2, a[0])  # 1
    qc.measure(0, a[2])  # the Bell pair's first half ...
    qc.measure(1, b[1])  # ... and its second
    qc.measure(0, b[0])  # the same qubit into two clbits; a[1] and q[3] never measured
    source = qasm3.dumps(qc)
    outcome, results = run([[source, None, 500]], memory=True, seed=5)
    data, meta = results[0]["data"], results[0]["metadata"]
    assert meta["sampling"] == "numpy"
    assert data["a"]["num_bits"] == 3 and data["b"]["num_bits"] == 2
    assert set(data["a"]["counts"]) == {"001", "101"}  # a[1] is never measured: 0
    assert set(data["b"]["counts"]) == {"00", "11"}
    assert data["a"]["counts"]["101"] == data["b"]["counts"]["11"]
    for a_hex, b_hex in zip(data["a"]["samples"], data["b"]["samples"], strict=True):
        assert (a_hex == "0x5") == (b_hex == "0x3")  # both halves of the pair, shot by shot
    # The job page's counts are keyed as Aer keys them: registers apart, the last first.
    assert set(outcome.counts) == {"00 001", "11 101"}
    aer_only(monkeypatch)
    aer_outcome, aer_results = run([[source, None, 500]], memory=True, seed=5)
    assert set(aer_outcome.counts) == set(outcome.counts)
    for name in ("a", "b"):
        assert set(aer_results[0]["data"][name]["counts"]) == set(data[name]["counts"])
        assert set(aer_results[0]["data"][name]["samples"]) == set(data[name]["samples"])


def test_measured_qubits_in_any_order_give_the_bits_aer_gives(monkeypatch):
    qc = QuantumCircuit(3, 3)
    qc.x(0)
    qc.measure([2, 0, 1], [0, 1, 2])  # c0 = q2 = 0, c1 = q0 = 1, c2 = q1 = 0
    source = qasm3.dumps(qc)
    outcome, results = run([[source, None, 10]], memory=True, seed=1)
    aer_only(monkeypatch)
    aer_outcome, aer_results = run([[source, None, 10]], memory=True, seed=1)
    assert results[0]["data"]["c"]["counts"] == {"010": 10}
    assert results[0]["data"] == aer_results[0]["data"]  # deterministic: identical
    assert outcome.counts == aer_outcome.counts == {"010": 10}


def test_memory_is_the_shots_counts_their_tally_and_seeds_reproduce():
    source = qasm3.dumps(sweep_circuit().measure_all(inplace=False))
    pubs = [[source, [0.5, 1.5, 2.5], 300]]
    _, with_memory = run(pubs, memory=True, seed=42)
    _, again = run(pubs, memory=True, seed=42)
    _, without = run(pubs, seed=42)
    _, other = run(pubs, memory=True, seed=43)
    meas = with_memory[0]["data"]["meas"]
    for samples, counts in zip(meas["samples"], meas["counts"], strict=True):
        assert len(samples) == 300
        tally = {format(int(h, 16), "03b"): samples.count(h) for h in set(samples)}
        assert tally == counts
    assert again == with_memory  # same seed, same shots in the same order
    assert without[0]["data"]["meas"]["counts"] == meas["counts"]  # memory or not
    assert other[0]["data"]["meas"]["counts"] != meas["counts"]  # another seed differs
    unseeded, first = run(pubs, memory=True)
    seed = unseeded.extra["seed_simulator"]
    assert isinstance(seed, int) and 0 <= seed <= primitives.MAX_SEED  # recorded ...
    assert run(pubs, memory=True, seed=seed)[1] == first  # ... and it repeats the run


def test_a_seed_selects_numpys_stream():
    source = qasm3.dumps(sweep_circuit().measure_all(inplace=False))
    _, results = run([[source, [1.0], 64]], memory=True, seed=7)  # one binding, shape ()
    plan_probs = exact(sweep_circuit(), 1.0)
    keys = sorted(plan_probs)  # outcome index order: qubit 0 is the lowest bit
    cdf = np.cumsum([plan_probs[k] for k in keys])
    cdf /= cdf[-1]
    drawn = np.searchsorted(cdf[:-1], np.random.default_rng(7).random(64), side="right")
    assert results[0]["data"]["meas"]["samples"] == [hex(int(keys[i], 2)) for i in drawn]


def test_shots_per_pub_and_broadcast_shapes():
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(2)
    qc.rx(a, 0)
    qc.rx(b, 1)
    source = qasm3.dumps(qc.measure_all(inplace=False))
    grid = [[[0.0, 0.0], [math.pi, 0.0], [0.0, math.pi]], [[math.pi, math.pi]] * 3]  # (2, 3, 2)
    by_name = {"a": [[0.0] * 3, [math.pi] * 3], "b": [[0.0, math.pi, 0.0]] * 2}  # (2, 3) each
    _, results = run([[source, grid, 30], [source, by_name, 7]], memory=True, seed=3)
    first, second = results
    assert first["metadata"]["shape"] == [2, 3] and first["metadata"]["shots"] == 30
    counts = first["data"]["meas"]["counts"]
    assert counts[0] == [{"00": 30}, {"01": 30}, {"10": 30}] and counts[1][2] == {"11": 30}
    assert len(first["data"]["meas"]["samples"][1][1]) == 30
    assert second["metadata"]["shape"] == [2, 3] and second["metadata"]["bindings"] == 6
    assert second["data"]["meas"]["counts"][1] == [{"01": 7}, {"11": 7}, {"01": 7}]
    assert second["data"]["meas"]["samples"][0][1] == ["0x2"] * 7


def test_noisy_entries_and_circuits_that_do_not_end_in_measurements_keep_aers_shots():
    bell = QuantumCircuit(2, 2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure([0, 1], [0, 1])
    mid = QuantumCircuit(2, 2)
    mid.h(0)
    mid.measure(0, 0)
    mid.cx(0, 1)  # after the measurement of q[0]
    mid.measure(1, 1)
    reset = bell.copy_empty_like()
    reset.h(0)
    reset.reset(0)
    reset.measure([0, 1], [0, 1])
    conditional = QuantumCircuit(2, 2)
    conditional.h(0)
    conditional.measure(0, 0)
    with conditional.if_test((conditional.clbits[0], 1)):
        conditional.x(1)
    conditional.measure(1, 1)
    wide = QuantumCircuit(primitives.MAX_IDEAL_QUBITS + 1)
    wide.h(range(wide.num_qubits))
    wide.measure_all()

    def sampling(circuit, config=PLAIN, bindings=None):
        _, results = run([[qasm3.dumps(circuit), bindings, 50]], config, seed=2)
        return results[0]["metadata"]["sampling"], results[0]["data"]

    assert sampling(bell)[0] == "numpy"
    assert sampling(bell, NOISY)[0] == "aer"
    assert sampling(bell, {"method": "statevector", "noise": {"t1_us": 1}})[0] == "aer"
    how, data = sampling(mid)
    assert how == "aer" and sum(data["c"]["counts"].values()) == 50
    assert sampling(reset)[0] == "aer"
    how, data = sampling(conditional)
    assert how == "aer" and set(data["c"]["counts"]) <= {"00", "11"}  # q[1] follows q[0]
    assert sampling(wide)[0] == "aer"
    assert sampling(bell, {"method": "stabilizer"})[0] == "numpy"


@pytest.mark.parametrize("outcomes", [4, 40])
def test_both_ways_of_drawing_agree_with_searchsorted(outcomes):
    rng = np.random.default_rng(9)
    probs = rng.random((6, outcomes))
    probs[:, 1] = 0.0  # never drawn
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    uniforms = rng.random((6, 500))
    drawn = primitives._draw(cdf, uniforms)
    expected = np.stack([np.searchsorted(cdf[k], uniforms[k], side="right") for k in range(6)])
    assert np.array_equal(drawn, np.minimum(expected, outcomes - 1))
    assert not np.any(drawn == 1)


def test_final_measurements_say_which_circuits_qualify():
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.measure(0, 1)
    qc.barrier()
    qc.measure(1, 0)
    assert primitives._final_measurements(qc) == [(0, 1), (1, 0)]
    later = qc.copy()
    later.x(0)
    assert primitives._final_measurements(later) is None
    elsewhere = QuantumCircuit(3, 2)
    elsewhere.h(0)
    elsewhere.measure(0, 0)
    elsewhere.cx(1, 2)  # after a measurement, but on qubits not measured yet
    elsewhere.measure(2, 1)
    assert primitives._final_measurements(elsewhere) == [(0, 0), (2, 1)]
