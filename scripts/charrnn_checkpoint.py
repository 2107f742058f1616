"""A char-rnn-webgpu checkpoint in PyTorch: the safetensors file (read and written without the
safetensors package), the model it describes as its cell's torch.nn module + Linear, and the
mapping of its tensors both ways (as src/pytorch.ts exports them). Used by train_pytorch.py."""

import json
import math
import os
import struct

import torch
import torch.nn.functional as F

from charrnn_cells import carries_c, extra_bias, gates, torch_module
from charrnn_schema import RUN_CONFIG_DEFAULTS, SchemaMissing, checkpoint_problem, read_entry, read_metadata

FORMATS = {"char-rnn-webgpu/1", "char-rnn-webgpu/2"}
DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8)}


class InputError(Exception):
    """Bad input, found before any work: printed without a traceback, exit code 2. Every
    process finds the same ones and the first prints them, but for those of its own (`own`)."""

    def __init__(self, message, own=False):
        super().__init__(message)
        self.own = own


# ---- safetensors: u64 little-endian N | N bytes of JSON header | raw little-endian data ---------

def read_safetensors(path):
    """(tensors, metadata, has_metadata), the layout checked as src/safetensors.ts does: the header
    inside the file, UTF-8 JSON of an object, metadata of strings, each tensor F32 or F64 with a
    shape of non-negative integers and offsets that cover exactly its bytes, the tensors covering
    the data section without overlaps or gaps."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"Checkpoint {path} cannot be read ({e.strerror}). Check the path.")
    not_one = f"{path} is not a char-rnn checkpoint (a .safetensors file), or it is damaged:"
    if len(raw) < 8:
        raise InputError(f"{not_one} the file is only {len(raw)} bytes long; a safetensors file starts with an 8-byte header length.")
    n = struct.unpack_from("<Q", raw)[0]
    if n > len(raw) - 8:
        raise InputError(f"{not_one} the header length field says {n} bytes, but only {len(raw) - 8} bytes follow it: truncated or not a safetensors file.")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{not_one} the {n}-byte header is not valid UTF-8 JSON ({e}).")
    if not isinstance(header, dict):
        raise InputError(f"{not_one} the header is JSON but not an object.")
    damaged = "The file is damaged or was not written by a safetensors writer."
    has_meta = "__metadata__" in header
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise InputError(f"{path}: the __metadata__ of the header is not a JSON object of strings. {damaged}")
    nonneg = lambda x: isinstance(x, int) and not isinstance(x, bool) and x >= 0
    entries, data_length = [], len(raw) - 8 - n
    for name, t in header.items():
        if not isinstance(t, dict) or t.get("dtype") not in DTYPES:
            raise InputError(f"{path}: tensor {name} is {t.get('dtype') if isinstance(t, dict) else t!r}; char-rnn checkpoints hold F32 and F64 tensors only. {damaged}")
        shape, offsets = t.get("shape"), t.get("data_offsets")
        if not isinstance(shape, list) or not all(nonneg(s) for s in shape):
            raise InputError(f"{path}: tensor {name} has shape {shape!r}, not a list of non-negative integers. {damaged}")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(nonneg(o) for o in offsets) or offsets[0] > offsets[1]:
            raise InputError(f"{path}: tensor {name} has data_offsets {offsets!r} out of range (expected [begin, end] with 0 <= begin <= end). {damaged}")
        size = DTYPES[t["dtype"]][1] * math.prod(shape)
        if offsets[1] - offsets[0] != size:
            raise InputError(f"{path}: tensor {name} has data_offsets {offsets} covering {offsets[1] - offsets[0]} bytes, but shape {shape} of {t['dtype']} needs {size}. {damaged}")
        entries.append((offsets[0], offsets[1], name, t))
    entries.sort(key=lambda e: (e[0], e[1]))
    end = max((e[1] for e in entries), default=0)
    if end > data_length:
        raise InputError(f"{path}: the file is truncated: the header places tensor data up to byte {end} of the data section, "
                         f"which holds only {data_length} bytes ({end - data_length} bytes missing). Save it again or use an earlier checkpoint.")
    at = 0
    for b, e, name, _ in entries + [(data_length, data_length, None, None)]:
        if b < at:
            raise InputError(f"{path}: tensor {name} (bytes {b}-{e}) overlaps the tensor before it in the data section. {damaged}")
        if b > at:
            raise InputError(f"{path}: bytes {at}-{b} of the data section belong to no tensor; a safetensors file has no gaps. {damaged}")
        at = e
    tensors, base = {}, 8 + n
    for b, e, name, t in entries:
        dtype = DTYPES[t["dtype"]][0]
        data = torch.frombuffer(bytearray(raw[base + b:base + e]), dtype=dtype) if e > b else torch.zeros(0, dtype=dtype)
        tensors[name] = data.reshape(t["shape"])
    return tensors, meta, has_meta


def write_safetensors(path, tensors, meta):
    """Atomically: a temporary file beside `path`, flushed, then renamed over it."""
    header, blobs, at = {"__metadata__": meta}, [], 0
    for name, t in tensors:
        data = t.detach().cpu().contiguous().numpy().tobytes()
        header[name] = {"dtype": "F64" if t.dtype == torch.float64 else "F32", "shape": list(t.shape), "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    js = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    js += b" " * (-len(js) % 8)
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---- the model and its tensors under both names ------------------------------------------------

def param_table(cell, L, H, V):
    """(name, role, layer, shape) in storage order, as src/model.ts paramTable."""
    G, tutorial, extra = gates(cell), cell == "rnn" and L == 1, extra_bias(cell, H)
    name = lambda role, l: role if l < 0 or tutorial else f"{role}.{l}"
    t = []
    for l in range(L):
        t += [(name("W_xh", l), "W_xh", l, (G * H, H if l else V)), (name("W_hh", l), "W_hh", l, (G * H, H)), (name("b_h", l), "b_h", l, (G * H,))]
        if extra:
            t.append((name(extra[0], l), extra[0], l, (H,)))
    return t + [("W_hy", "W_hy", -1, (V, H)), ("b_y", "b_y", -1, (V,))]


class CharRNN(torch.nn.Module):
    def __init__(self, cell, V, H, L, dropout):
        super().__init__()
        self.rnn = torch_module(cell, V, H, L, batch_first=True, dropout=dropout if L > 1 else 0.0)
        self.out = torch.nn.Linear(H, V)
        self.V, self.p = V, dropout

    def forward(self, x, state):
        """x (B, T) indices; state as nn.RNN takes it. Returns logits (B, T, V) and the new state."""
        y, state = self.rnn(F.one_hot(x, self.V).to(self.out.weight.dtype), state)
        return self.out(F.dropout(y, self.p, self.training)), state


def to_torch(ours, cell, table, H):
    """Our tensors (parameters, or an optimizer state laid out like them) by PyTorch's keys."""
    t, extra = {}, extra_bias(cell, H)
    for name, role, l, shape in table:
        x = ours[name].reshape(shape)
        if role == "W_xh": t[f"rnn.weight_ih_l{l}"] = x
        if role == "W_hh": t[f"rnn.weight_hh_l{l}"] = x
        if role == "b_h":
            t[f"rnn.bias_ih_l{l}"] = x
            t[f"rnn.bias_hh_l{l}"] = torch.zeros_like(x)
        if extra and role == extra[0]:
            hh = torch.zeros(gates(cell) * H, dtype=x.dtype)
            hh[extra[1]:extra[1] + H] = x
            t[f"rnn.bias_hh_l{l}"] = hh
        if role == "W_hy": t["out.weight"] = x
        if role == "b_y": t["out.bias"] = x
    return t


def to_ours(t, cell, table, H):
    """The inverse: each pair of biases folds into ours (b_h = bias_ih + bias_hh; an extra bias,
    gru's b_hn, stays apart: its gate's rows of bias_hh)."""
    ours, extra = {}, extra_bias(cell, H)
    for name, role, l, shape in table:
        if role == "W_xh": ours[name] = t[f"rnn.weight_ih_l{l}"]
        if role == "W_hh": ours[name] = t[f"rnn.weight_hh_l{l}"]
        if role == "b_h":
            ih, hh = t[f"rnn.bias_ih_l{l}"], t.get(f"rnn.bias_hh_l{l}")
            hh = torch.zeros_like(ih) if hh is None else hh
            if extra:
                hh = hh.clone()
                hh[extra[1]:extra[1] + H] = 0
            ours[name] = ih + hh
        if extra and role == extra[0]: ours[name] = t[f"rnn.bias_hh_l{l}"][extra[1]:extra[1] + H]
        if role == "W_hy": ours[name] = t["out.weight"]
        if role == "b_y": ours[name] = t["out.bias"]
    return {k: v.detach().clone() for k, v in ours.items()}


# ---- the run: read, checked and written -----------------------------------------------------------

def text_hash(text):
    """src/text.ts scanUtf8's hash: two 32-bit FNV-1a-style lanes over the code points."""
    h1, h2, M = 0x811C9DC5, 0x6C62272E, 0xFFFFFFFF
    for ch in text:
        cp = ord(ch)
        h1 = ((h1 ^ cp) * 0x01000193) & M
        h2 = (((h2 ^ cp) * 0x01000197) & M) ^ (h2 >> 15)
    return f"{h1:08x}{h2:08x}"


def load_run(path, dtype):
    """A run of ours, every input checked first (src/checkpoint.ts loadCheckpoint and src/state.ts
    trainerStateOf): the layout, the metadata against the schema, every tensor's name, dtype,
    size and finiteness. Each problem is one InputError sentence."""
    tensors, meta, has_meta = read_safetensors(path)
    fmt = meta.get("format")
    if fmt == "char-rnn-webgpu/pytorch":
        raise InputError(f"{path} is a PyTorch export: weights only, no training run to continue. Make one with "
                         f"char-rnn train --init {path} --text FILE --steps 0 --save RUN.safetensors, then continue RUN.safetensors.")
    if fmt not in FORMATS:
        what = "has no __metadata__" if not has_meta else ("has no format entry" if fmt is None else f"has format {fmt!r}")
        raise InputError(f"{path} is not a char-rnn-webgpu checkpoint: it {what}, expected one of {sorted(FORMATS)}.")
    damaged = "The file is damaged or was edited; use another checkpoint."
    try:
        m, problem = read_metadata(meta, "checkpoint")
        problem = problem or checkpoint_problem(m)
        if problem:
            raise InputError(f"{path}: {problem}. {damaged}")
        if "run" not in m or "config" not in m:
            raise InputError(f"{path} holds weights but no training run. Make one with char-rnn train --init {path} --text FILE --steps 0 --save RUN.safetensors.")
        cfg, problem = read_entry(meta["config"], "config", "runConfig")
    except SchemaMissing as e:
        raise InputError(f"{path} cannot be checked: {e}.")
    if problem:
        raise InputError(f"{path}: {problem}. {damaged}")
    vocab, H, run, cell, L = m["vocab"], int(m["hidden"]), m["run"], m.get("cell", "rnn"), int(m.get("layers", 1))
    cfg = {**RUN_CONFIG_DEFAULTS, **cfg}
    table = param_table(cell, L, H, len(vocab))
    check_tensors(path, tensors, table, cell, L, run["B"], H, damaged)

    def get(name, shape=None):
        t = tensors.get("f64." + name) if dtype == torch.float64 else None
        t = tensors.get(name) if t is None else t
        if t is None:
            raise InputError(f"{path}: tensor {name} of the training run is missing; the file is damaged.")
        return t.to(dtype).reshape(shape if shape else (-1,))

    params = {n: get(n, s) for n, _, _, s in table}
    m_, v = ({n: get(k + n, s) for n, _, _, s in table} for k in ("m", "v"))
    state = [get("hprev", (L, run["B"], H))] + ([get("cprev", (L, run["B"], H))] if carries_c(cell) else [])
    return dict(vocab=vocab, H=H, cell=cell, L=L, cfg=cfg, run=run, text=m.get("text"), table=table, params=params, m=m_, v=v,
                state=state, history=m.get("history", []))


def check_tensors(path, tensors, table, cell, L, B, H, damaged):
    """The model's tensors in their shapes as F32; the training state (src/state.ts stateTensors)
    of its sizes: m*, v* F32 and f64.* F64 of each parameter's, hprev (and the LSTM's cprev) of
    L x B x H; nothing else; every value finite."""
    want = {}
    for n, _, _, shape in table:
        size = math.prod(shape)
        want[n] = ("F32", list(shape), f"shape {list(shape)}")
        for k, d in (("m", "F32"), ("v", "F32"), ("f64.", "F64"), ("f64.m", "F64"), ("f64.v", "F64")):
            want[k + n] = (d, size, f"the size of {n}")
    for k in ("hprev", "cprev") if carries_c(cell) else ("hprev",):
        what = f"layers x batch x hidden: {L} x {B} (the run's B) x {H}"
        want[k], want["f64." + k] = ("F32", L * B * H, what), ("F64", L * B * H, what)
    for n, *_ in table:
        if n not in tensors:
            raise InputError(f"{path}: tensor {n} is missing; a {cell} of {L} layer{'s' if L > 1 else ''} holds {', '.join(t[0] for t in table)}. {damaged}")
    others = [n for n in tensors if n not in want]
    if others:
        raise InputError(f"{path}: tensor{'s' if len(others) > 1 else ''} {', '.join(others)} {'are' if len(others) > 1 else 'is'} neither a parameter of "
                         f"the model ({cell}, {L} layer{'s' if L > 1 else ''}, hidden {H}) nor its training state. The tensors do not match the metadata. {damaged}")
    for n, t in tensors.items():
        d, size, what = want[n]
        got = "F64" if t.dtype == torch.float64 else "F32"
        if got != d:
            raise InputError(f"{path}: tensor {n} is stored as {got}, expected {d}. {damaged}")
        if (list(t.shape) if isinstance(size, list) else t.numel()) != size:
            raise InputError(f"{path}: tensor {n} has {'shape ' + str(list(t.shape)) if isinstance(size, list) else str(t.numel()) + ' values'}, expected {size} ({what}). {damaged}")
        flat = t.reshape(-1)
        bad = torch.nonzero(~torch.isfinite(flat))
        if len(bad):
            i = int(bad[0])
            x = flat[i].item()
            shown = "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")
            raise InputError(f"{path}: tensor {n} holds a non-finite value ({shown}) at index {i}; a checkpoint holds finite numbers only. {damaged}")


def save_run(path, r, model_state, opt_state, state, step, cursor, t, record, dtype):
    """A checkpoint of ours (src/checkpoint.ts, src/state.ts): weights (the model's state dict),
    optimizer state (m, v as torch's keys), the carried state, step, data cursor, vocabulary,
    configuration, text record and loss curve."""
    cfg, run, H, L, cell, vocab, table = r["cfg"], r["run"], r["H"], r["L"], r["cell"], r["vocab"], r["table"]
    tutorial = cell == "rnn" and L == 1
    params = to_ours(model_state, cell, table, H)
    m, v = (to_ours(s, cell, table, H) for s in opt_state)
    f32 = lambda x: x.detach().cpu().to(torch.float32)
    tensors = [(n, f32(params[n]).reshape(s)) for n, _, _, s in table]
    for n, _, _, _ in table:
        tensors += [("m" + n, f32(m[n]).reshape(-1)), ("v" + n, f32(v[n]).reshape(-1))]
    shape = (run["B"], H) if tutorial else (L, run["B"], H)
    tensors += [(k, f32(s).reshape(shape)) for k, s in zip(("hprev", "cprev"), state)]
    if dtype == torch.float64:  # the CPU engine resumes from these exactly
        for n, _, _, _ in table:
            tensors += [("f64." + k + n, x[n].cpu().reshape(-1)) for k, x in (("", params), ("m", m), ("v", v))]
        tensors += [("f64." + k, s.reshape(-1)) for k, s in zip(("hprev", "cprev"), state)]
    meta = {"format": "char-rnn-webgpu/1" if tutorial else "char-rnn-webgpu/2", "vocab": json.dumps(vocab, ensure_ascii=False, separators=(",", ":")),
            "hidden": str(H), "vocab_size": str(len(vocab)), "step": str(step)}
    if not tutorial:
        meta.update(cell=cell, layers=str(L), dropout=str(cfg["dropout"]))
    new_run = {**run, "step": step, "chunk": cursor.chunk, "epoch": cursor.epoch, "t": t, "rng": {"seed": cfg["seed"], "counter": step}}
    compact = lambda x: json.dumps(x, ensure_ascii=False, separators=(",", ":"))
    meta.update(config=compact(cfg), run=compact(new_run), text=compact(record), history=compact(thin_history(r["history"])))
    write_safetensors(path, tensors, meta)


def thin_history(rows, most=2000):
    """As src/history.ts thinHistory: about `most` rows evenly spaced, the last and every validated one kept."""
    every = -(-len(rows) // most) if len(rows) > most else 1
    return [p for i, p in enumerate(rows) if i % every == 0 or i == len(rows) - 1 or len(p) > 2]
