# Loads a model written by `char-rnn export --pytorch OUT.safetensors` into PyTorch and samples
# it greedily: python3 scripts/pytorch_sample.py OUT.safetensors PRIME LENGTH
import json, struct, sys
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
make = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[meta["cell"]]
model = torch.nn.ModuleDict({"rnn": make(V, H, L, batch_first=True), "out": torch.nn.Linear(H, V)})
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
