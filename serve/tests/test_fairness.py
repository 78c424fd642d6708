"""The gateway's fair queue, table-tested: keys take turns for a model's free replicas, by weight,
within their running and waiting limits."""

import pytest

from ndif_serve.fairness import FairQueue, Limits, Refused, limits_for


def run_all(queue, model, slots):
    """Starts and finishes jobs one slot-full at a time; the order they started in."""
    order = []
    while True:
        started = queue.start(model, slots)
        if not started:
            return order
        order.extend(started)
        for job in started:
            queue.finish(job)


def test_one_keys_hundred_jobs_delay_anothers_single_job_by_one():
    queue = FairQueue()
    for i in range(100):
        queue.submit(f"a{i}", "m", "a", Limits(queued=100))
    assert queue.start("m", 1) == ["a0"]
    queue.submit("b0", "m", "b", Limits())
    queue.finish("a0")
    order = ["a0"] + run_all(queue, "m", 1)
    assert order.index("b0") <= 2, order[:5]


@pytest.mark.parametrize(
    "weights, expected",
    [
        ({"a": 1, "b": 1}, ["a0", "b0", "a1", "b1", "a2", "b2"]),
        ({"a": 2, "b": 1}, ["a0", "a1", "b0", "a2", "b1", "b2"]),
        ({"a": 1, "b": 3}, ["a0", "b0", "b1", "b2", "a1", "a2"]),
    ],
)
def test_keys_take_turns_by_weight(weights, expected):
    queue = FairQueue()
    for i in range(3):
        for key in ("a", "b"):
            queue.submit(f"{key}{i}", "m", key, Limits(weight=weights[key]))
    assert run_all(queue, "m", 1) == expected


def test_a_key_at_its_running_limit_leaves_the_free_replica_to_others():
    queue = FairQueue()
    for i in range(3):
        queue.submit(f"a{i}", "m", "a", Limits(running=1))
    queue.submit("b0", "m", "b", Limits())
    assert queue.start("m", 3) == ["a0", "b0"]
    assert queue.running_for("a") == 1 and queue.waiting_for("a") == 2
    queue.finish("a0")
    assert queue.start("m", 3) == ["a1"]


def test_the_running_limit_counts_every_model_of_the_key():
    queue = FairQueue()
    queue.submit("a0", "m", "a", Limits(running=1))
    queue.submit("a1", "n", "a", Limits(running=1))
    assert queue.start("m", 1) == ["a0"]
    assert queue.start("n", 1) == []
    queue.finish("a0")
    assert queue.start("n", 1) == ["a1"]


def test_a_job_beyond_the_waiting_limit_is_refused_with_the_limit():
    queue = FairQueue()
    queue.submit("a0", "m", "a", Limits(queued=2))
    queue.submit("a1", "m", "a", Limits(queued=2))
    with pytest.raises(Refused, match=r"already has 2 jobs waiting on this gateway, its limit \(2\)"):
        queue.submit("a2", "m", "a", Limits(queued=2))
    queue.submit("b0", "m", "b", Limits(queued=2))  # another key is not affected
    assert queue.start("m", 1) == ["a0"]
    queue.submit("a2", "m", "a", Limits(queued=2))  # one started: room again


def test_a_job_that_leaves_before_it_starts_frees_its_place():
    queue = FairQueue()
    queue.submit("a0", "m", "a", Limits())
    queue.submit("b0", "m", "b", Limits())
    assert queue.finish("a0") == "m"
    assert queue.waiting("m") == 1
    assert queue.start("m", 1) == ["b0"]
    queue.finish("b0")
    assert queue.waiting("m") == 0 and queue.waiting_for("a") == queue.running_for("b") == 0
    assert queue.finish("unknown") is None


def test_no_free_slot_starts_nothing():
    queue = FairQueue()
    queue.submit("a0", "m", "a", Limits())
    assert queue.start("m", 0) == []
    assert queue.start("other", 1) == []


@pytest.mark.parametrize(
    "tags, expected",
    [
        ((), Limits(running=2, queued=4, weight=1)),
        (("trusted",), Limits(running=None, queued=64, weight=4)),
        (("course",), Limits(running=1, queued=8, weight=1)),
        (("course", "trusted"), Limits(running=None, queued=64, weight=4)),
    ],
)
def test_a_keys_limits_are_the_most_generous_of_its_tags(tags, expected):
    by_tag = {
        "default": Limits(running=2, queued=4),
        "trusted": Limits(running=None, queued=64, weight=4),
        "course": Limits(running=1, queued=8),
    }
    assert limits_for(tags, by_tag) == expected
    assert limits_for((), {}) == Limits()


@pytest.mark.parametrize(
    "value, message",
    [
        ({"running": 0}, "running must be a whole number of at least 1"),
        ({"queued": -1}, "queued must be a whole number of at least 0"),
        ({"weight": "2"}, "weight must be a whole number of at least 1"),
        ({"burst": 2}, "unknown fields ['burst']"),
        ([1], "must be a mapping"),
    ],
)
def test_bad_limits_are_named(value, message):
    with pytest.raises(ValueError, match=None) as error:
        Limits.parse(value, "limits.default")
    assert message in str(error.value)


def test_a_model_whose_queue_is_full_refuses_whichever_key_asks():
    queue = FairQueue()
    queue.submit("a0", "m", "a", Limits(), model_limit=2)
    queue.submit("b0", "m", "b", Limits(), model_limit=2)
    with pytest.raises(Refused) as error:
        queue.submit("c0", "m", "c", Limits(), model_limit=2)
    assert error.value.limit == "model"
    assert queue.waiting_for("c") == 0
    queue.submit("c0", "other", "c", Limits(), model_limit=2)
