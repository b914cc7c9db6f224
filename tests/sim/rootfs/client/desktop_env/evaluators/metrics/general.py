import logging

logger = logging.getLogger("desktopenv.metric.general")


def check_image_contents(domain):
    if domain == "microsoft_paint":
        # A metric's own log line that also starts with "Result:": never the task's score.
        logger.info("Result: Found a red circle at (720, 450) with radius 85, expected one")
