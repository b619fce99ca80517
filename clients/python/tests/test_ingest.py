"""Records and labels from DataFrames and dicts reach the daemon whole, once, in batches."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest

from proxy import Proxy
from vigil_client import Client, VigilError


def new_model(vigil: Client, task: str = "classification") -> str:
    name = f"m-{uuid.uuid4().hex[:12]}"
    vigil.create_model(name, task)
    return name


def frame(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.normal(50_000, 12_000, rows)
    income[::97] = np.nan
    return pd.DataFrame(
        {
            "id": [f"r{seed}-{i}" for i in range(rows)],
            "timestamp": pd.date_range("2026-01-01", periods=rows, freq="s"),
            "income": income,
            "plan": rng.choice(["basic", "plus", "pro, annual"], rows),
            "prediction": rng.choice(["yes", "no"], rows),
            "proba_yes": rng.uniform(0, 1, rows),
        }
    )


def test_a_frame_is_sent_in_batches_and_read_back_as_it_was(vigil):
    model = new_model(vigil)
    sent = frame(12_345)
    totals = vigil.send_records(model, sent, batch_size=1000, progress=False)
    assert totals["accepted"] == 12_345
    assert vigil.model(model)["record_count"] == 12_345
    back = vigil.records(model).set_index("id").loc[sent["id"]]
    np.testing.assert_array_equal(back["income"].to_numpy(dtype=float), sent["income"].to_numpy())
    assert list(back["plan"]) == list(sent["plan"])
    assert list(back["prediction"]) == list(sent["prediction"])
    np.testing.assert_array_equal(back["proba_yes"].to_numpy(), sent["proba_yes"].to_numpy())
    assert (back["timestamp"].dt.tz_localize(None).to_numpy() == sent["timestamp"].to_numpy()).all()


def test_the_same_frame_sent_twice_is_stored_once(vigil):
    model = new_model(vigil)
    sent = frame(2_500, seed=2)
    vigil.send_records(model, sent, batch_size=1000, progress=False)
    vigil.send_records(model, sent, batch_size=1000, progress=False)
    assert vigil.model(model)["record_count"] == 2_500


def test_dicts_flat_or_in_the_api_shape_are_records(vigil):
    model = new_model(vigil)
    totals = vigil.send_records(
        model,
        [
            {"id": "a", "income": 1.5, "plan": "basic", "prediction": "yes", "proba_yes": 0.9},
            {"id": "b", "income": float("nan"), "plan": "pro", "prediction": "no"},
            {"id": "c", "features": {"income": 3.0, "plan": "plus"}, "prediction": "no",
             "probabilities": {"yes": 0.2}},
        ],
        progress=False,
    )
    assert totals["accepted"] == 3
    back = {r["id"]: r for r in vigil.records(model, as_frame=False)}
    assert back["a"]["features"] == {"income": 1.5, "plan": "basic"}
    assert back["a"]["probabilities"] == {"yes": 0.9}
    assert back["b"]["features"]["income"] is None
    assert back["c"]["features"] == {"income": 3.0, "plan": "plus"}


def test_labels_from_a_frame_a_dict_or_dicts_are_stored(vigil):
    model = new_model(vigil)
    vigil.send_records(model, frame(30, seed=3), progress=False)
    ids = [f"r3-{i}" for i in range(30)]
    vigil.send_labels(model, pd.DataFrame({"id": ids[:10], "label": ["yes"] * 10}), progress=False)
    vigil.send_labels(model, {i: "no" for i in ids[10:20]}, progress=False)
    vigil.send_labels(model, [{"id": i, "label": "yes"} for i in ids[20:25]], progress=False)
    labeled = vigil.records(model, labeled=True)
    assert sorted(labeled["id"]) == sorted(ids[:25])
    assert (labeled.set_index("id").loc[ids[10:20], "label"] == "no").all()
    with pytest.raises(ValueError, match="exactly the columns"):
        vigil.send_labels(model, pd.DataFrame({"id": ["x"], "label": ["y"], "extra": [1]}))


def test_a_lost_answer_is_sent_again_and_stored_once(daemon, vigil):
    model = new_model(vigil)
    proxy = Proxy(daemon.url)
    try:
        client = Client(proxy.url, token=daemon.admin, backoff=0.01)
        proxy.plan.extend([("drop", 0)])
        # Without ids only the idempotency key keeps the retry from storing the batch twice.
        sent = frame(3_000, seed=4).drop(columns="id")
        totals = client.send_records(model, sent, batch_size=1000, progress=False)
        posts = [s for s in proxy.seen if s[0] == "POST"]
        assert len(posts) == 4, posts  # the first batch twice
        assert totals["accepted"] == 3_000
        assert vigil.model(model)["record_count"] == 3_000
    finally:
        proxy.close()


def test_busy_answers_are_retried_until_the_daemon_takes_the_batch(daemon, vigil):
    model = new_model(vigil)
    proxy = Proxy(daemon.url)
    try:
        client = Client(proxy.url, token=daemon.admin, backoff=0.01)
        proxy.plan.extend([("status", 503), ("status", 429)])
        totals = client.send_records(model, frame(10, seed=5), progress=False)
        assert totals["accepted"] == 10
        assert len(proxy.seen) == 3
        impatient = Client(proxy.url, token=daemon.admin, retries=1, backoff=0.01)
        proxy.plan.extend([("status", 503), ("status", 503)])
        with pytest.raises(VigilError) as refused:
            impatient.models()
        assert refused.value.status == 503
    finally:
        proxy.close()


def test_refusals_are_errors_that_say_why_and_are_not_retried(daemon, vigil):
    model = new_model(vigil)
    proxy = Proxy(daemon.url)
    try:
        reader = Client(proxy.url, token=daemon.token("read"), backoff=0.01)
        with pytest.raises(VigilError) as refused:
            reader.send_records(model, frame(5, seed=6), progress=False)
        assert refused.value.status == 403
        assert len(proxy.seen) == 1
    finally:
        proxy.close()
    with pytest.raises(VigilError) as missing:
        vigil.send_records("no-such-model", frame(5, seed=7), progress=False)
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    with pytest.raises(VigilError) as anonymous:
        Client(daemon.url, token="").models()
    assert anonymous.value.status == 401
    with pytest.raises(VigilError) as unreachable:
        Client("http://127.0.0.1:9", token="x", retries=0).models()
    assert unreachable.value.code == "unreachable"
