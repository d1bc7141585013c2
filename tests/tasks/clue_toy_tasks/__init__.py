"""A tiny task package, laid out as a built-in task is: the toy-task tests register it in-process,
the plugin test builds it into a wheel and installs it (entry point ``clue.tasks``)."""
