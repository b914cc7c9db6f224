"""The per-host result a run records (plugin_utils/_artifact.py), from the run's variables."""

from __future__ import annotations

from ansible_collections.openadapt.waa.plugins.plugin_utils._artifact import run_artifact

SURVEY = {"changed": False, "host": {"kvm": {"checked": True, "usable": True}, "resources": {"free_bytes": 9 * 2 ** 30},
                                     "azure_vm_size": "Standard_D8ds_v5"},
          "layers": [{"layer": "docker_daemon", "healthy": True}]}


def _artifact(now=100.0, **run_vars):
    return run_artifact(lambda name, default: run_vars.get(name, default), now)


def test_a_successful_run_reports_the_playbook_s_last_phase_and_the_validation_s_layers():
    layers = [{"layer": "docker_daemon", "healthy": True}]
    doc = _artifact(waa_survey=SURVEY, waa_started=40.0, waa_validation={"layers": layers}, waa_image="img:1",
                    waa_container_name="winarena", waa_server_port="15000", waa_local_address="127.0.0.1",
                    waa_image_result={"source": "hub", "bytes_total": 10, "ansible_job_id": "x"})
    assert doc["exit_code"] == 0 and doc["success"] is True
    assert (doc["phase"], doc["phase_number"]) == ("validate", 9)
    assert doc["message"] == "WAA container ready for evaluation" and doc["fix"] == ""
    assert doc["health_layers"] == layers and doc["duration_seconds"] == 60.0
    assert doc["checks"] == {"ssh": True, "docker": True, "nested_virt": True, "disk_space": 9 * 2 ** 30}
    assert doc["vm_size"] == "Standard_D8ds_v5"  # from Azure's metadata service, as no inventory named one
    assert doc["image"] == "img:1" and doc["image_source"] == "hub" and doc["image_pull"] == {"bytes_total": 10}
    assert doc["ports"] == {"server": 15000, "vnc": 8006, "rdp": 3389, "address": "127.0.0.1"}
    assert _artifact(waa_final_phase="benchmark")["phase"] == "benchmark"


def test_a_failed_run_reports_the_failed_phase_its_message_fix_and_layers():
    doc = _artifact(waa_exit_code="5", waa_phase="windows_boot", waa_failure_message="", waa_failure_fix="Wait.",
                    waa_failure_layers=[{"layer": "windows_boot", "healthy": False}], waa_validation={"layers": ["x"]},
                    waa_vm_size="Standard_D4s_v3", waa_survey=SURVEY)
    assert (doc["exit_code"], doc["success"], doc["phase"], doc["phase_number"]) == (5, False, "windows_boot", 4)
    assert doc["message"] == "" and doc["fix"] == "Wait."  # never the success message on a failure
    assert doc["health_layers"] == [{"layer": "windows_boot", "healthy": False}]
    assert doc["vm_size"] == "Standard_D4s_v3"


def test_a_run_that_never_surveyed_the_vm_checked_nothing():
    for survey in (None, {"skipped": True}, {"failed": True, "msg": "lease"}):
        doc = _artifact(waa_survey=survey, _waa_docker_started={"changed": True})
        assert doc["checks"] == {"ssh": False, "docker": True, "nested_virt": None, "disk_space": None}, survey
        assert doc["vm_size"] == ""


def test_a_host_left_out_for_its_stopped_vm_says_how_to_start_it():
    from ansible_collections.openadapt.waa.plugins.plugin_utils._artifact import left_out_artifact

    doc = left_out_artifact(lambda name, default: {"waa_azure_vm_name": "waa-vm-2",
                                                   "waa_azure_power_state": "deallocated"}.get(name, default), "vm2")
    assert doc["exit_code"] == 0 and doc["skipped"] is True and doc["phase"] == "preflight"
    assert "the Azure VM waa-vm-2 is deallocated" in doc["message"] and "waa up" in doc["fix"] and "vm2" in doc["fix"]


def test_a_benchmark_records_each_tasks_outcome_as_plain_checked_values():
    ok = "aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS"
    result = {"tasks": [
        {"domain": "notepad", "task_id": ok, "status": "finished", "score": 1.0, "success": True, "duration": 12.5},
        {"domain": "notepad", "task_id": ok, "status": "{{ lookup('pipe', 'id') }}", "score": "1", "success": "yes"},
        {"domain": "../etc", "task_id": ok, "status": "finished"}, "not a task"]}
    doc = _artifact(waa_benchmark_result=result)
    assert doc["benchmark"] == {"tasks": [
        {"task": "notepad/" + ok, "status": "finished", "score": 1.0, "success": True, "duration": 12.5},
        {"task": "notepad/" + ok, "status": "unknown", "score": None, "success": False, "duration": None}]}
    assert _artifact()["benchmark"] == {}  # not a benchmark run
    # The metadata service's answer is a size's name or nothing.
    survey = dict(SURVEY, host=dict(SURVEY["host"], azure_vm_size="{{ lookup('pipe', 'id') }}"))
    assert _artifact(waa_survey=survey)["vm_size"] == ""


def test_a_host_found_ready_reports_the_image_its_survey_found():
    """No image phase ran: the image's size, id and registry come from the run's survey, as the human line's
    "already present; nothing pulled" does; an image phase's own result wins."""
    image = {"checked": True, "present": True, "image_id": "sha256:1", "image_size_bytes": 7, "source": "docker.io",
             "digest": "sha256:d", "msg": "img:1 is already present; nothing pulled."}
    ready = _artifact(waa_survey=dict(SURVEY, image=image))
    assert ready["image_source"] == "docker.io" and ready["image_pull"] == {"image_size_bytes": 7, "digest": "sha256:d"}
    pulled = _artifact(waa_survey=dict(SURVEY, image=image), waa_image_result={"source": "acr.example", "bytes_total": 9})
    assert pulled["image_source"] == "acr.example" and pulled["image_pull"] == {"bytes_total": 9}
