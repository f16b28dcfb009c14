"""The words that start the renewal worker (docs/decisions/0018), in a module of their own: the program's entry
looks at them before anything else, and a bridge or a ``--help`` that is not a worker must not pay for importing the
worker's launcher (``subprocess``) or its wire format to find that out."""

#: The first word of the worker's command line (``python -m desktop_app --renewal-worker``, or the frozen app's
#: executable followed by it): the program's entry hands it to the worker before anything else is looked at.
WORKER_FLAG = "--renewal-worker"
#: The second word of the worker proper's command line, after :data:`WORKER_FLAG`.
HANDED_OVER = "--handed-over"
