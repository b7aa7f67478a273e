"""The ``rl`` controller: a GRU policy over core-unit tokens trained with PPO."""

from __future__ import annotations

import pytest
import torch

from search import ControllerError, make_controller
from space import Space
from tests.search._synthetic import SPACE, median_evaluations, random_median, resumes_exactly


def test_finds_a_top_function_sooner_than_random() -> None:
    # batches of 4, as several workers would ask; the first batch is the untrained policy's
    assert median_evaluations("rl", range(9), batch=4) < random_median()


@pytest.mark.parametrize("batch", [3, 4])  # 3: results told mid-batch; 4: whole PPO batches
def test_resumes_exactly_from_json_state(batch: int) -> None:
    assert resumes_exactly("rl", {"batch_size": 4}, batch=batch)


def test_leaves_global_torch_state_alone() -> None:
    rng, threads = torch.get_rng_state().clone(), torch.get_num_threads()
    space = Space(unary=("x", "tanh", "sin"), binary=("add", "mul"), units=3, min_units=1)
    controller = make_controller("rl", space, params={"batch_size": 2})
    asked = controller.ask(4)
    assert len(asked) == 4
    assert torch.equal(rng, torch.get_rng_state()) and torch.get_num_threads() == threads
    for _, data in controller.state_dict()["proposed"]:
        assert space.contains(space.candidate_from_json(data))


def test_refuses_tree_spaces() -> None:
    with pytest.raises(ControllerError, match="core space"):
        make_controller("rl", Space(form="tree", unary=("x", "sin"), binary=("add",)))


@pytest.mark.parametrize(("name", "value"), [("batch_size", 0), ("hidden", 2.5), ("lr", 0), ("clip", -1),
                                             ("entropy", "a"), ("baseline_decay", 2), ("explore", True)])
def test_bad_params_name_the_parameter(name: str, value: object) -> None:
    with pytest.raises(ControllerError, match=name):
        make_controller("rl", SPACE, params={name: value})
