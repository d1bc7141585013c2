"""The metric cache: only new (prediction, reference) pairs are computed."""

from __future__ import annotations

import os

from clue.store.metric_cache import MetricCache, cached_values, settings_hash


class Counter:
    """A stand-in metric that records what it was asked to compute."""

    def __init__(self):
        self.calls: list[list[tuple[str, str]]] = []

    def __call__(self, preds, refs):
        self.calls.append(list(zip(preds, refs)))
        return [len(p) / (len(p) + len(r) or 1) for p, r in zip(preds, refs)]


def test_second_scoring_computes_nothing_and_gives_the_same_values(tmp_path):
    path = tmp_path / "metric_cache.sqlite"
    preds, refs = ["a", "bb", "a", ""], ["x", "yy", "x", "z"]
    metric = Counter()
    with MetricCache(path) as cache:
        first, computed = cached_values(cache, "m", {"v": 1}, preds, refs, metric)
    assert computed == 3  # the repeated pair is computed once
    assert metric.calls == [[("a", "x"), ("bb", "yy"), ("", "z")]]
    with MetricCache(path) as cache:  # a new process would see the same file
        second, computed = cached_values(cache, "m", {"v": 1}, preds, refs, metric)
    assert computed == 0 and len(metric.calls) == 1
    assert second == first


def test_changed_settings_or_new_pairs_recompute_only_what_changed(tmp_path):
    metric = Counter()
    with MetricCache(tmp_path / "c.sqlite") as cache:
        cached_values(cache, "m", {"model": "x"}, ["p1", "p2"], ["r1", "r2"], metric)
        _, n_new_pair = cached_values(cache, "m", {"model": "x"}, ["p1", "p2", "p3"], ["r1", "r2", "r3"], metric)
        _, n_new_settings = cached_values(cache, "m", {"model": "y"}, ["p1"], ["r1"], metric)
        _, n_other_metric = cached_values(cache, "other", {"model": "x"}, ["p1"], ["r1"], metric)
        assert cache.count("m") == 4 and cache.count() == 5
    assert (n_new_pair, n_new_settings, n_other_metric) == (1, 1, 1)
    assert metric.calls[1] == [("p3", "r3")]


def test_no_path_means_no_cache(tmp_path):
    metric = Counter()
    cache = MetricCache(None)
    cached_values(cache, "m", {}, ["a"], ["b"], metric)
    cached_values(cache, "m", {}, ["a"], ["b"], metric)
    assert len(metric.calls) == 2
    assert not list(tmp_path.iterdir())


def test_settings_hash_ignores_key_order():
    assert settings_hash({"a": 1, "b": [1, 2]}) == settings_hash({"b": [1, 2], "a": 1})
    assert settings_hash({"a": 1}) != settings_hash({"a": 2})


def test_file_digest_is_remembered_and_follows_changes(tmp_path):
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"abc")
    with MetricCache(tmp_path / "c.sqlite") as cache:
        first = cache.file_digest(weights)
        assert first == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        weights.write_bytes(b"abcd")
        os.utime(weights, ns=(1, 10**18))
        assert cache.file_digest(weights) != first
