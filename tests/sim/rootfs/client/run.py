"""Script to run end-to-end evaluation on the benchmark (the WAA client, simulated).

Same command line, stdout, result layout and resume behaviour as WAA's /client/run.py; the agent
and the evaluators are simulated (waa_sim_plan.py decides each task's steps and score). Unknown
flags are ignored, as argparse's parse_known_args does in the real client. Sim-only: the
start_client.sh flag spellings (--result-dir, --json-name, --clean-results ...) are accepted
too, and --clean-results (default true) wipes the result directory before the run, which the
real image does in start_client.sh.
"""
import argparse
import datetime
import json
import logging
import os
import shutil
import signal
import sys
import traceback
from threading import Event

import lib_run_single
from desktop_env.envs.desktop_env import DesktopEnv
from mm_agents.navi.agent import NaviAgent

print("Waiting for the server to start...")

#  Logger Configs {{{ #
root_logger = logging.getLogger()
root_logger.setLevel(logging.DEBUG)
datetime_str: str = datetime.datetime.now().strftime("%Y%m%d@%H%M%S")
formatter = logging.Formatter(
    fmt="\x1b[1;33m[%(asctime)s \x1b[31m%(levelname)s \x1b[32m%(module)s/%(lineno)d-%(processName)s\x1b[1;33m] \x1b[0m%(message)s")


def setup_logging(args):
    logging_dir = os.path.join(args.result_dir, "logs")
    os.makedirs(logging_dir, exist_ok=True)

    file_handler = logging.FileHandler(os.path.join(logging_dir, "normal-{}-{}.log".format(args.worker_id, datetime_str)), encoding="utf-8")
    debug_handler = logging.FileHandler(os.path.join(logging_dir, "debug-{}-{}.log".format(args.worker_id, datetime_str)), encoding="utf-8")
    stdout_handler = logging.StreamHandler(sys.stdout)
    sdebug_handler = logging.FileHandler(os.path.join(logging_dir, "sdebug-{}-{}.log".format(args.worker_id, datetime_str)), encoding="utf-8")

    file_handler.setLevel(logging.INFO)
    debug_handler.setLevel(logging.DEBUG)
    stdout_handler.setLevel(logging.INFO)
    sdebug_handler.setLevel(logging.DEBUG)

    for handler in (file_handler, debug_handler, stdout_handler, sdebug_handler):
        handler.setFormatter(formatter)

    stdout_handler.addFilter(logging.Filter("desktopenv"))
    sdebug_handler.addFilter(logging.Filter("desktopenv"))

    for handler in (file_handler, debug_handler, stdout_handler, sdebug_handler):
        root_logger.addHandler(handler)
#  }}} Logger Configs #


logger = logging.getLogger("desktopenv.experiment")


def _bool(value):
    return str(value).strip().lower() in ("1", "true", "yes", "y")


def config():
    parser = argparse.ArgumentParser(description="Run end-to-end evaluation on the benchmark")

    # environment config
    parser.add_argument("--headless", action="store_true", help="Run in headless machine")
    parser.add_argument("--action_space", type=str, default="pyautogui", help="Action type")
    parser.add_argument("--observation_type", choices=["screenshot", "a11y_tree", "screenshot_a11y_tree", "som"],
                        default="a11y_tree", help="Observation type")
    parser.add_argument("--screen_width", type=int, default=1920)
    parser.add_argument("--screen_height", type=int, default=1200)
    parser.add_argument("--sleep_after_execution", type=float, default=3)
    parser.add_argument("--max_steps", type=int, default=15)
    parser.add_argument("--a11y_backend", "--a11y-backend", type=str, default="uia")

    # agent config
    parser.add_argument("--agent_name", "--agent", type=str, default="navi")
    parser.add_argument("--som_origin", "--som-origin", type=str, default="oss")
    parser.add_argument("--max_trajectory_length", type=int, default=3)
    parser.add_argument("--test_config_base_dir", type=str, default="evaluation_examples_windows")

    # lm config
    parser.add_argument("--model", type=str, default="gpt-4-vision-preview")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top_p", type=float, default=0.9)
    parser.add_argument("--max_tokens", type=int, default=1500)
    parser.add_argument("--stop_token", type=str, default=None)

    # example config
    parser.add_argument("--domain", type=str, default="all")
    parser.add_argument("--emulator_ip", type=str, default="20.20.20.21")
    parser.add_argument("--test_all_meta_path", "--json-name", type=str,
                        default="evaluation_examples_windows/test_all.json")

    # logging related
    parser.add_argument("--result_dir", "--result-dir", type=str, default="./results")
    parser.add_argument("--trial_id", type=str, default="0")

    # multi-worker related
    parser.add_argument("--worker_id", "--worker-id", type=int, default=0, help="ID of the worker")
    parser.add_argument("--num_workers", "--num-workers", type=int, default=1, help="Total number of workers")

    # benchmark difficulty level
    parser.add_argument("--diff_lvl", "--diff-lvl", type=str, default="normal", help="Difficulty level of the benchmark")

    args, _unknown = parser.parse_known_args()

    # Sim-only: start_client.sh's --clean-results, read apart so that Args: Namespace(...) shows
    # exactly the real client's fields.
    clean = argparse.ArgumentParser(add_help=False)
    clean.add_argument("--clean-results", "--clean_results", dest="clean_results", default="true")
    clean_args, _ = clean.parse_known_args()
    return args, _bool(clean_args.clean_results)


def test(args, test_all_meta):
    scores = []
    max_steps = args.max_steps

    logger.info("Args: %s", args)

    agent = NaviAgent(server="oai", model=args.model, som_config=None, som_origin=args.som_origin,
                      temperature=args.temperature)
    env = DesktopEnv(action_space=agent.action_space, screen_size=(args.screen_width, args.screen_height),
                     headless=args.headless,
                     require_a11y_tree=args.observation_type in ["a11y_tree", "screenshot_a11y_tree", "som"],
                     emulator_ip=args.emulator_ip, a11y_backend=args.a11y_backend)

    domains = list(test_all_meta)
    for d_index, domain in enumerate(domains):
        _tqdm("Domain", d_index, len(domains))
        for example_id in test_all_meta[domain]:
            logger.info("Windows Agent Arena: Starting on NORMAL difficulty")
            config_file = os.path.join(args.test_config_base_dir, f"examples/{domain}/{example_id}.json")
            logger.info(f"\nTESTING ON TASK CONFIG PATH: {config_file}")

            with open(config_file, "r", encoding="utf-8") as f:
                example = json.load(f)
            example["domain"] = domain

            logger.info(f"[Domain]: {domain}")
            logger.info(f"[Example ID]: {example_id}")

            instruction = example["instruction"]

            logger.info(f"[Instruction]: {instruction}")

            example_result_dir = os.path.join(args.result_dir, args.action_space, args.observation_type, args.model,
                                              args.trial_id, domain, example_id)
            os.makedirs(example_result_dir, exist_ok=True)

            os.makedirs(os.path.join(example_result_dir, "logs"), exist_ok=True)
            task_log_handler = logging.FileHandler(
                os.path.join(example_result_dir, "logs", "task-{}-{}.log".format(args.worker_id, datetime_str)),
                encoding="utf-8")
            task_log_handler.setLevel(logging.DEBUG)
            task_log_handler.setFormatter(formatter)
            root_logger.addHandler(task_log_handler)

            try:
                lib_run_single.run_single_example(agent, env, example, max_steps, instruction, args,
                                                  example_result_dir, scores)
            except Exception as e:
                logger.error(f"Exception in {domain}/{example_id}: {e}")
                error_traceback = traceback.format_exc()
                logger.error(error_traceback)
                with open(os.path.join(example_result_dir, "traj.jsonl"), "a") as f:
                    f.write(json.dumps({
                        "Error": f"Exception in {domain}/{example_id}",
                        "Exception": str(e),
                        "Traceback": error_traceback,
                    }))
                    f.write("\n")
                with open(os.path.join(example_result_dir, "traj.html"), "a") as f:
                    f.write(f"<h1>Error: Exception in {domain}/{example_id}</h1>")
                    f.write(f"<p>{e}</p>")
                    f.write("<pre>")
                    f.write(error_traceback)
                    f.write("</pre>")
            else:
                logger.info(f"Finished {domain}/{example_id}")
            finally:
                root_logger.removeHandler(task_log_handler)
                task_log_handler.close()
    _tqdm("Domain", len(domains), len(domains), end=True)

    env.close()
    if len(scores) == 0:
        logger.info("No examples finished.")
    else:
        logger.info(f"Average score: {sum(scores) / len(scores)}")


def _tqdm(desc, n, total, end=False):
    """tqdm's progress bar on stderr, as the real client's loops print it."""
    pct = int(100 * n / total) if total else 100
    bar = ("#" * (pct // 10)).ljust(10)
    sys.stderr.write(f"\r{desc}: {pct:3d}%|{bar}| {n}/{total} [00:00<?, ?it/s]" + ("\n" if end else ""))
    sys.stderr.flush()


def get_unfinished(action_space, use_model, observation_type, result_dir, trial_id, total_file_json):
    target_dir = os.path.join(result_dir, action_space, observation_type, use_model, trial_id)

    if not os.path.exists(target_dir):
        return total_file_json

    finished = {}
    for domain in os.listdir(target_dir):
        finished[domain] = []
        domain_path = os.path.join(target_dir, domain)
        if os.path.isdir(domain_path):
            for example_id in os.listdir(domain_path):
                if example_id == "onboard":
                    continue
                example_path = os.path.join(domain_path, example_id)
                if os.path.isdir(example_path):
                    if "result.txt" not in os.listdir(example_path):
                        # empty all files and dirs under example_id
                        for file in os.listdir(example_path):
                            out_path = os.path.join(example_path, file)
                            if os.path.isdir(out_path):
                                shutil.rmtree(out_path)
                            else:
                                os.remove(out_path)
                    else:
                        finished[domain].append(example_id)

    if not finished:
        return total_file_json

    for domain, examples in finished.items():
        if domain in total_file_json:
            total_file_json[domain] = [x for x in total_file_json[domain] if x not in examples]

    return total_file_json


def get_result(action_space, use_model, observation_type, result_dir, trial_id, total_file_json):
    target_dir = os.path.join(result_dir, action_space, observation_type, use_model, trial_id)
    if not os.path.exists(target_dir):
        print("New experiment, no result yet.")
        return None

    all_result = []
    for domain in os.listdir(target_dir):
        domain_path = os.path.join(target_dir, domain)
        if os.path.isdir(domain_path):
            for example_id in os.listdir(domain_path):
                example_path = os.path.join(domain_path, example_id)
                if os.path.isdir(example_path) and "result.txt" in os.listdir(example_path):
                    try:
                        all_result.append(float(open(os.path.join(example_path, "result.txt"), "r").read()))
                    except ValueError:
                        all_result.append(0.0)

    if not all_result:
        print("New experiment, no result yet.")
        return None
    print("Current Success Rate:", sum(all_result) / len(all_result) * 100, "%")
    return all_result


exit_event = Event()


def quit(signo, _frame):
    print("Interrupted by %d, shutting down" % signo)
    exit_event.set()
    exit(0)


def wait_for_server(env_ip, port=5000):
    from desktop_env.controllers.python import SIM_ADDRESS
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url = "http://%s:%d/probe" % (SIM_ADDRESS.get(env_ip, env_ip), port)
    while not exit_event.is_set():
        try:
            with opener.open(url, timeout=7) as resp:
                print("Response from server:", json.loads(resp.read()))
            break
        except Exception as e:
            print("Failed to get hello:", e)
            print("Retrying...")
            exit_event.wait(5)


for sig in ("TERM", "HUP", "INT"):
    signal.signal(getattr(signal, "SIG" + sig), quit)

if __name__ == "__main__":
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    args, clean_results = config()
    if clean_results and os.path.isdir(args.result_dir):
        # start_client.sh: rm -rf "$result_dir"/*
        for name in os.listdir(args.result_dir):
            path = os.path.join(args.result_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    setup_logging(args)

    wait_for_server(args.emulator_ip)

    with open(args.test_all_meta_path, "r", encoding="utf-8") as f:
        test_all_meta = json.load(f)

    logger.info(f"\nTESTING ON TASK JSON PATH: {args.test_all_meta_path}")

    if args.domain != "all":
        test_all_meta = {args.domain: test_all_meta[args.domain]}

    if args.num_workers == 1:
        test_file_list = get_unfinished(args.action_space, args.model, args.observation_type, args.result_dir,
                                        args.trial_id, test_all_meta)
    else:
        test_file_list = test_all_meta

    left_info = ""
    for domain in test_file_list:
        left_info += f"{domain}: {len(test_file_list[domain])}\n"
    logger.info(f"Left tasks:\n{left_info}")

    all_tasks_test = [(domain, example_id) for domain in test_file_list for example_id in test_file_list[domain]]
    tasks_per_worker = len(all_tasks_test) // args.num_workers
    extra = len(all_tasks_test) % args.num_workers
    start_index = args.worker_id * tasks_per_worker + min(args.worker_id, extra)
    if args.worker_id < extra:
        end_index = start_index + tasks_per_worker + 1
    else:
        end_index = start_index + tasks_per_worker
    tasks_for_this_worker = all_tasks_test[start_index:end_index]

    logger.info(f"Worker {args.worker_id} is doing tasks: {tasks_for_this_worker}")

    test_file_list_worker = {}
    for domain, example_id in tasks_for_this_worker:
        test_file_list_worker.setdefault(domain, []).append(example_id)

    get_result(args.action_space, args.model, args.observation_type, args.result_dir, args.trial_id,
               test_file_list_worker)
    test(args, test_file_list_worker)
