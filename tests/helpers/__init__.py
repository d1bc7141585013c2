"""Helpers shared by several test folders (imported as ``tests.helpers.<module>``).

- ``cli``: the ``clue`` command line in this process (``clue``) or as a child process (``clue_process``).
- ``runs``: a real run in this process through run_model (``evaluate``; to become ``clue.evaluate``).
- ``fake_runs``: run directories written by hand with known scores (``write_run``, ``level1_tasks``).
- ``fakeserver``: an OpenAI-compatible server on 127.0.0.1 with injectable faults (also a script, for bench/).
- ``serving``: skip without the serving packages; a synthetic MedNLI file.
- ``stub_server``: a stdlib-only OpenAI-compatible stub that counts prompts (the sweep and cluster tests).
- ``scripted_backends``: deterministic backends (the MeDiSumQA builder's model, the prompt-variant models).
- ``tiny_model``: tiny random-weight Llamas saved to a folder (the local-backend and sweep tests, bench/).
"""
