"""Readable random run names ("bold-fox-42") for runs created without one, as MLflow does."""

import random

_ADJECTIVES = (
    "agile amber bold brave bright calm clever crisp daring eager fancy fearless gentle glowing "
    "grand honest keen lively lucky merry mighty nimble noble polite proud quick quiet rapid "
    "shiny silent smooth snappy sturdy sunny swift tidy vivid warm wise witty zesty"
).split()
_NOUNS = (
    "ant bat bear bee crab crane deer dove eagle eel elk finch fox frog gull hare hawk heron "
    "ibis jay koala lark lion lynx mole moth newt otter owl panda pike puma quail raven seal "
    "shark sloth snail squid stork swan tiger toad trout wasp whale wolf wren yak"
).split()


def random_run_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(1, 999)}"
