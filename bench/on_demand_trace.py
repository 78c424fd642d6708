"""One remote trace as a researcher writes it, timed from the moment the block is sent to the
moment its saved value is back (the client's own setup, importing torch and building the meta
model, is left out). Prints one JSON line. Environment: NDIF_HOST, NDIF_API_KEY, HF_HOME,
HF_ENDPOINT; argv[1]: the model's repository id."""

import json
import sys
import time

from nnsight import LanguageModel

model = LanguageModel(sys.argv[1])
started = time.monotonic()
with model.trace("The Eiffel Tower is in", remote=True):
    hidden = model.transformer.h[0].output.save()
print(json.dumps({"seconds": round(time.monotonic() - started, 3), "shape": list(hidden.shape)}))
