"""Runs and evaluates the agent loop on one example (WAA's lib_run_single.py)."""
import datetime
import logging
import os

from trajectory_recorder import TrajectoryRecorder

logger = logging.getLogger("desktopenv.experiment")


def run_single_example(agent, env, example, max_steps, instruction, args, example_result_dir, scores):
    agent.reset(example.get("id"))
    obs = env.reset(task_config=example)
    done = False
    step_idx = 0
    start_time = datetime.datetime.now()
    recorder = TrajectoryRecorder(example_result_dir)
    recorder.record_init(obs, example, start_time.strftime("%Y%m%d@%H%M%S"))

    while not done and step_idx < max_steps:
        logger.info("Agent: Thinking...")
        response, actions, logs, computer_update_args = agent.predict(instruction, obs)
        for action in actions:
            action_timestamp = datetime.datetime.now().strftime("%Y%m%d@%H%M%S")
            elapsed_timestamp = f"{datetime.datetime.now() - start_time}"
            logger.info("Step %d: %s", step_idx + 1, action)

            obs, reward, done, info = env.step(action, args.sleep_after_execution)

            logger.info("Reward: %.2f", reward)
            logger.info("Done: %s", done)
            recorder.record_step(obs, logs, step_idx, action_timestamp, elapsed_timestamp, action, reward, done, info)
            if done:
                logger.info("The episode is done.")
                break
        step_idx += 1

    logger.info("Running evaluator(s)...")
    result = env.evaluate()
    logger.info("Result: %.2f", result)
    scores.append(result)

    with open(os.path.join(example_result_dir, "result.txt"), "w", encoding="utf-8") as f:
        f.write(f"{result}\n")
    recorder.record_end(result, start_time)
