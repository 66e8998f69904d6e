"""Settings for every test, the pages' code blocks included."""

import torch

# A float sum split over several threads is added in another order, so training runs drift apart after a few dozen
# steps. The book's printed outputs and its cached models are made with one thread, in the tests and in the site
# build alike (tools/exec_cache.py), so they are the same on every machine.
torch.set_num_threads(1)
