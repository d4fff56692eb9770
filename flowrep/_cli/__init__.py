"""The `flowrep` command: a job registry (`_jobs`), one module per job, the report writer.

Sits on top of the library (it may use the public `flowrep`); the library never imports it.
"""

from ._main import main as main
