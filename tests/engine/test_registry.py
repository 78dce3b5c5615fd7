"""Every component of the manifest contract has exactly one executor."""

from controller.engine.components import EXECUTORS
from controller.manifests.components import COMPONENTS


def test_every_component_type_has_an_executor_and_no_more():
    assert set(EXECUTORS) == set(COMPONENTS)


def test_waiting_components_handle_what_can_arrive_while_they_wait():
    for name, model in COMPONENTS.items():
        executor = EXECUTORS[name]
        if model.WAITS:
            assert executor.on_message is not None and executor.on_timer is not None, name
        else:
            assert executor.on_message is None and executor.on_timer is None and executor.on_release is None, name
