import logging

logger = logging.getLogger("desktopenv.getters.file")


def get_vm_file(env, config):
    # The real getter logs what it found; "Result: true" here is not the task's score.
    logger.info("Result: %s", "true")
    return "ok"
