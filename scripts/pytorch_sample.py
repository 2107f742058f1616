# Loads a model written by `char-rnn export --pytorch OUT.safetensors` into PyTorch and samples
# it greedily: python3 scripts/pytorch_sample.py OUT.safetensors PRIME LENGTH
import json, os, struct, sys
import torch

def load_safetensors(path):  # or: safetensors.torch.load_file(path), safe_open(path, "pt").metadata()
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header, data = json.loads(f.read(n)), f.read()
    meta = header.pop("__metadata__")
    tensors = {k: torch.frombuffer(bytearray(data[v["data_offsets"][0]:v["data_offsets"][1]]), dtype=torch.float32).reshape(v["shape"])
               for k, v in header.items()}
    return tensors, meta

state, meta = load_safetensors(sys.argv[1])
vocab = json.loads(meta["vocab"])
V, H, L = len(vocab), int(meta["hidden"]), int(meta["layers"])
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cells.json")) as f:  # the cells of src/cells.ts
    cell = json.load(f)[meta["cell"]]["torch"]  # e.g. {"module": "RNN", "args": {"nonlinearity": "tanh"}}
rnn = getattr(torch.nn, cell["module"])(V, H, L, batch_first=True, **cell["args"])
model = torch.nn.ModuleDict({"rnn": rnn, "out": torch.nn.Linear(H, V)})
model.load_state_dict(state, strict=True)
model.double()  # float64, as char-rnn's CPU engine computes

def greedy(prime, length):
    x, h, text = [vocab.index(c) for c in prime], None, prime
    with torch.no_grad():
        for _ in range(length):
            y, h = model["rnn"](torch.nn.functional.one_hot(torch.tensor([x]), V).double(), h)
            x = [int(model["out"](y[0, -1]).argmax())]
            text += vocab[x[0]]
    return text

print(greedy(sys.argv[2], int(sys.argv[3])))
