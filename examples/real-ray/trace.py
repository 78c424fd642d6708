# What a researcher writes: NDIF_HOST and NDIF_API_KEY in the environment, the model by its id.
from nnsight import LanguageModel

model = LanguageModel("ndif-local/tiny-gpt2")
with model.trace("The Eiffel Tower is in", remote=True):
    hidden = model.transformer.h[0].output.save()
print("hidden state of layer 0:", tuple(hidden.shape), hidden[0, -1, :4].tolist())
