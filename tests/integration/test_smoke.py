from maqet_tui.manager import Manager


def test_start_qmp_stop(manager: Manager, tiny_vm) -> None:
    tiny_vm("a")
    vm = manager.start("a")
    assert vm["status"] == "running"
    assert manager.qmp("a", "query-status")["status"] == "running"
    assert manager.stop("a", force=True)["status"] == "stopped"
