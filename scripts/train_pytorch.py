#!/usr/bin/env python3
"""Continues a char-rnn-webgpu training run in PyTorch, on one process or many
(DistributedDataParallel), and writes a checkpoint of ours back.

    python3 scripts/train_pytorch.py --resume RUN.safetensors --steps 2000 --save OUT.safetensors
    torchrun --nproc_per_node 2 scripts/train_pytorch.py --resume RUN.safetensors --steps 2000 --save OUT.safetensors

Needs torch and jsonschema (Debian: apt-get install python3-torch python3-jsonschema), which checks
the checkpoint's metadata against schema/checkpoint.schema.json. On GPUs the processes
talk over NCCL, one GPU each (torchrun --nproc_per_node = the GPU count); on CPUs over Gloo.

What is kept from the run (the checkpoint's `config`, `run` and `text` metadata, see README):
  model   the cell's module (scripts/cells.json: torch.nn.RNN, LSTM, GRU with their arguments)
          (V, H, L, batch_first=True, dropout=p) + torch.nn.Linear(H, V) on
          one-hot characters, keyed as `char-rnn export --pytorch` writes it (src/pytorch.ts):
          weight_ih_l{l} = W_xh.l, weight_hh_l{l} = W_hh.l, bias_ih_l{l} = b_h.l, bias_hh_l{l} = 0
          (gru: [0; 0; b_hn.l]), out.weight = W_hy, out.bias = b_y. We hold one bias per gate:
          bias_hh stays 0 (frozen; gru: its r and z rows' gradient is zeroed), and b_h is read back
          as bias_ih + bias_hh. Dropout also on the last layer's output, before `out`, as ours.
  data    the same text, the last `valFraction` held out; the training part cut into B streams of
          L characters, read T at a time from the saved chunk and epoch, each stream's hidden
          state carried from chunk to chunk (no gradient across) and reset at each epoch. Rank r
          of W trains streams [r*B//W, (r+1)*B//W): together exactly our B streams.
  loss    mean -log p over the B*T positions, reported; the gradient is that of the sum over
          timesteps, averaged over streams (T times the gradient of the mean), as ours.
  update  global-norm clip (clipNorm), then element-wise clip (clip), then the optimizer with
          the run's learning rate and schedule: sgd (momentum), rmsprop, adam, adamw (decay on
          the matrices only) are torch.optim's; adagrad is ours (eps inside the square root,
          torch.optim.Adagrad puts it outside). Optimizer state maps both ways: Adam's m, v and
          step count, sgd's momentum, adagrad's and rmsprop's squared sums.
Not kept: dropout masks (ours come from a counter-based generator, here from torch's), the
float64 CPU engine's exact numbers unless --dtype float64. Ctrl-C stops without saving.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

from charrnn_cells import extra_bias, own_bias_hh_rows
from charrnn_checkpoint import CharRNN, InputError, load_run, save_run, text_hash, to_torch
from charrnn_optim import lr_at, make_optimizer, optimizer_state, set_optimizer_state

# ---- the run: checkpoint, text, data plan ---------------------------------------------------------

def read_text(args, r):
    """The run's text (as given with --text, else the one its checkpoint records), checked
    against the record, encoded, and its text record for the checkpoint written back."""
    rec = r["text"]
    if args.text is None and rec is None:
        raise InputError(f"{args.resume} does not record its training text: give it with --text FILE.")
    if args.text is None and "string" in rec:
        text, record = rec["string"], rec
    else:
        path = args.text or rec["path"]
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise InputError(f"The training text {path} cannot be read ({e.strerror}). Give it with --text FILE.")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"Text file {path} is not valid UTF-8 (bad byte at {e.start}). Convert it first, e.g. iconv -f latin1 -t utf-8.")
        text = text[1:] if text.startswith("\ufeff") else text  # a byte-order mark is not a character
        record = {"source": path, "path": os.path.abspath(path)}
    record["chars"], record["hash"] = len(text), text_hash(text)
    if rec is not None and (rec["hash"], rec["chars"]) != (record["hash"], record["chars"]):
        raise InputError(f"{record['source']} ({record['chars']:,} characters, hash {record['hash']}) is not the text {args.resume} was trained on "
                         f"({rec.get('path', rec['source'])}, {rec['chars']:,} characters, hash {rec['hash']}). This script continues a run on its own text.")
    index = {c: i for i, c in enumerate(r["vocab"])}
    ids = [index.get(c, -1) for c in text]
    if -1 in ids:
        k = ids.index(-1)
        raise InputError(f"Character {text[k]!r} (U+{ord(text[k]):04X}) at character {k + 1} of {record['source']} is not in the vocabulary of {args.resume}.")
    return torch.tensor(ids, dtype=torch.long), record


def plan_data(ids, cfg, run, world, source):
    """src/data.ts splitText and planBatches, checked against the saved plan."""
    n_val = math.floor(len(ids) * cfg["valFraction"])
    train, val = (ids, None) if n_val < 2 else (ids[:len(ids) - n_val], ids[len(ids) - n_val:])
    B = run["B"]
    L = (len(train) - 1) // B
    T = run.get("T") or cfg["seqLen"] or L  # seqLen 0: the whole stream in one step
    if L < 1 or T > L or ("L" in run and run["L"] != L):
        raise InputError(f"The text does not give the saved data plan (B={B}, T={T}, L={run.get('L')}; here L={L}).")
    chunks = L // T
    if run["chunk"] > chunks:
        raise InputError(f"{source}: the run.chunk metadata {run['chunk']} is outside the run's data: {B} stream{'s' if B > 1 else ''} of {L} characters "
                         f"read {T} at a time give chunks 0 to {chunks}. The file is damaged or was edited; use another checkpoint.")
    if world > B:
        raise InputError(f"{world} processes for {B} streams (the run's --batch): each process needs at least one stream. Use at most {B} processes.")
    return train, val, dict(B=B, T=T, L=L, steps_per_epoch=L // T)


def check_output(path):
    if os.path.isdir(path):
        raise InputError(f"--save {path} is a directory. Give a file path, e.g. {os.path.join(path, 'model.safetensors')}.")
    d = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(d, exist_ok=True)
        probe = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        open(probe, "wb").close()
        os.remove(probe)
    except OSError as e:
        raise InputError(f"--save {path}: cannot write in {d} ({e.strerror}). Give a path in a directory you can write to.")


# ---- training -------------------------------------------------------------------------------------

class Streams:
    """This process's streams [b0, b1) of the run's B, read T at a time (src/data.ts BatchCursor)."""

    def __init__(self, data, plan, b0, b1, chunk, epoch, device):
        self.data, self.plan, self.chunk, self.epoch = data.to(device), plan, chunk, epoch
        self.starts = torch.arange(b0, b1, device=device) * plan["L"]
        self.offsets = torch.arange(plan["T"], device=device)

    def next(self):
        """Inputs and targets (streams, T) of the next chunk; True where it starts an epoch."""
        if self.chunk >= self.plan["steps_per_epoch"]:
            self.chunk, self.epoch = 0, self.epoch + 1
        at = (self.starts + self.chunk * self.plan["T"])[:, None] + self.offsets[None, :]
        reset = self.chunk == 0
        self.chunk += 1
        return self.data[at], self.data[at + 1], reset


@torch.no_grad()
def validate(model, val, chunk=1024):
    """Mean -log p over the validation text, one stream with the state carried through it."""
    model.eval()
    state, total, n = None, 0.0, len(val) - 1
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        logits, state = model(val[None, s:e], state)
        total += F.cross_entropy(logits[0], val[s + 1:e + 1], reduction="sum").item()
    model.train()
    return total / n


def clip_gradients(params, clip_norm, clip):
    """src/cpu/engine.ts: scale to a global L2 norm of at most clip_norm, then clamp each element
    to [-clip, clip]; returns the norm before clipping (a tensor: no wait for the device)."""
    norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params))
    if clip_norm > 0:
        scale = torch.clamp(clip_norm / norm, max=1.0)
        for p in params:
            p.grad.mul_(scale.to(p.dtype))
    if clip > 0:
        for p in params:
            p.grad.clamp_(-clip, clip)
    return norm


def gather_state(state, B, world):
    """Every process's carried state (L, its streams, H) as the run's (L, B, H), on every process."""
    if world == 1:
        return [s.cpu() for s in state]
    bounds = [(k * B // world, (k + 1) * B // world) for k in range(world)]
    width = max(b1 - b0 for b0, b1 in bounds)
    out = []
    for s in state:
        padded = torch.zeros(s.shape[0], width, s.shape[2], dtype=s.dtype, device=s.device)
        padded[:, :s.shape[1]] = s
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded)
        out.append(torch.cat([p[:, :b1 - b0] for p, (b0, b1) in zip(parts, bounds)], dim=1).cpu())
    return out


def torch_init(model, cell, H, L, seed):
    """PyTorch's own initialisation in place of the run's weights (the quality benchmark's
    reference, bench/quality.ts): every tensor uniform in +-1/sqrt(H), out as nn.Linear draws it,
    drawn from torch.manual_seed(seed). PyTorch's two biases per gate are folded into ours, one
    per gate (bias_ih + bias_hh, the same sum the cell sees), but for an extra bias's rows (the
    GRU's b_hn), which stay in bias_hh."""
    torch.manual_seed(seed)
    model.rnn.reset_parameters()
    model.out.reset_parameters()
    with torch.no_grad():
        for l in range(L):
            ih, hh = getattr(model.rnn, f"bias_ih_l{l}"), getattr(model.rnn, f"bias_hh_l{l}")
            own = own_bias_hh_rows(cell, H, hh)
            ih.add_(hh * (1 - own))
            hh.mul_(own)


def build(r, dtype, device, init=None):
    """The model from the run's weights (or PyTorch's initialisation, `init` = its seed), its
    trainable tensors, and the optimizer with its state."""
    cell, H, L, V, cfg = r["cell"], r["H"], r["L"], len(r["vocab"]), r["cfg"]
    model = CharRNN(cell, V, H, L, float(cfg["dropout"])).to(dtype)
    model.load_state_dict(to_torch(r["params"], cell, r["table"], H), strict=True)
    if init is not None:
        torch_init(model, cell, H, L, init)
    model.to(device)
    for l in range(L):  # our one bias per gate: bias_hh stays 0 (an extra bias, gru's b_hn, is trained in its gate's rows)
        getattr(model.rnn, f"bias_hh_l{l}").requires_grad_(extra_bias(cell, H) is not None)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    opt = make_optimizer(cfg, named)
    set_optimizer_state(opt, cfg, named, to_torch(r["m"], cell, r["table"], H), to_torch(r["v"], cell, r["table"], H), r["run"]["t"])
    return model, named, opt


class Diverged(Exception):
    pass


def train(args, r, ids, record, plan, world, rank, device, dtype, say):
    cfg, run, V, H = r["cfg"], r["run"], len(r["vocab"]), r["H"]
    train_ids, val = ids
    B, T, total = plan["B"], plan["T"], cfg["steps"]
    b0, b1 = rank * B // world, (rank + 1) * B // world
    model, named, opt = build(r, dtype, device, args.torch_init)
    net = model
    if dist.is_initialized():
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    params = [p for _, p in named]
    bias_hh = [(p, own_bias_hh_rows(r["cell"], H, p)) for n, p in named if "bias_hh" in n]  # trained only with an extra bias
    state = [s[:, b0:b1].contiguous().to(device) for s in r["state"]]
    cursor = Streams(train_ids, plan, b0, b1, run["chunk"], run["epoch"], device)
    val = val.to(device) if val is not None else None
    step, t, limit, last = run["step"], run["t"], 3 * math.log(V) + 10, {}
    torch.manual_seed(cfg["seed"] + 7919 * step + rank)  # dropout masks (torch's, not ours)

    def val_loss():
        x = torch.tensor([validate(model, val) if rank == 0 else 0.0], dtype=torch.float64, device=device)
        if world > 1:
            dist.broadcast(x, 0)
        return x.item()

    if val is not None:
        say(f"validation at step {step} (as loaded): {val_loss():.4f} nats/char")
    t0, first, lines = time.time(), step, Lines()
    while step < total:
        x, y, reset = cursor.next()
        if reset:
            state = [torch.zeros_like(s) for s in state]
        lr = lr_at(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        logits, new = net(x, tuple(state) if len(state) == 2 else state[0])
        loss_sum = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="sum")
        opt.zero_grad()
        (loss_sum * (world / B)).backward()  # DDP averages over processes: the sum over T, mean over B
        for p, own in bias_hh:
            p.grad.mul_(own)
        norm = clip_gradients(params, cfg["clipNorm"], cfg["clip"])
        opt.step()
        state = [s.detach() for s in (new if isinstance(new, tuple) else (new,))]
        step, t = step + 1, t + 1
        check_val = val is not None and ((cfg["evalEvery"] > 0 and step % cfg["evalEvery"] == 0) or step == total)
        if step % cfg["logEvery"] == 0 or step == total or check_val:
            loss = loss_sum.detach().double()
            if world > 1:
                dist.all_reduce(loss)
            loss = loss.item() / (B * T)
            if not math.isfinite(loss) or loss > limit:
                raise Diverged(f"Training diverged at step {step}: the loss is {loss:.2f} nats/char, above {limit:.2f} (3 ln V + 10). Nothing was written.")
            elapsed = time.time() - t0
            last = {"step": step, "epoch": cursor.epoch, "train_loss": loss, "val_loss": None, "val_bpc": None, "val_perplexity": None,
                    "lr": lr, "grad_norm": norm.item(), "chars_per_sec": (step - first) * B * T / max(elapsed, 1e-9), "elapsed": elapsed}
            if check_val:
                vl = val_loss()
                if not math.isfinite(vl) or vl > limit:
                    raise Diverged(f"Training diverged at step {step}: the validation loss is {vl:.2f} nats/char. Nothing was written.")
                last.update(val_loss=vl, val_bpc=vl / math.log(2), val_perplexity=math.exp(vl))
            r["history"].append([step, loss] if last["val_loss"] is None else [step, loss, last["val_loss"]])
            report(last, total, args.log_file if rank == 0 else None, say if rank == 0 and lines.shown(step, total, check_val) else None)
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        raise Diverged(f"The weights hold NaN or Inf after step {step}: nothing was written. Lower the learning rate or clip.")
    full = gather_state(state, B, world)
    if rank == 0:
        save_run(args.save, r, model.state_dict(), optimizer_state(opt, r["cfg"], named), full, step, cursor, t, record, dtype)
    return step - first, time.time() - t0, last


class Lines:
    """As char-rnn train without a terminal: a line per tenth of the run, per validation, the last."""
    tenth = -1

    def shown(self, step, total, validated):
        tenth, self.tenth = self.tenth, 10 * step // max(total, 1)
        return tenth != self.tenth or validated or step == total


def report(e, total, log_file, say):
    v = f"  val {e['val_loss']:.4f} ({e['val_bpc']:.3f} bpc)" if e["val_loss"] is not None else ""
    if say:
        say(f"step {e['step']}/{total}  epoch {e['epoch']}  loss {e['train_loss']:.4f}{v}  lr {e['lr']:.3g}  {round(e['chars_per_sec'])} chars/s")
    if log_file:
        with open(log_file, "a") as f:
            f.write(json.dumps(e) + "\n")


# ---- command line ---------------------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(description="Continue a char-rnn-webgpu run in PyTorch (one process, or DDP under torchrun) and save a checkpoint of ours.")
    p.add_argument("--resume", required=True, metavar="CKPT", help="checkpoint written by char-rnn train --save")
    p.add_argument("--save", required=True, metavar="OUT", help="where to write the checkpoint (char-rnn sample, eval, train --resume/--init read it)")
    p.add_argument("--steps", type=int, help="the run's total steps, as char-rnn train --resume --steps (default: the run's own)")
    p.add_argument("--text", help="the training text (default: the one the checkpoint records; it must be the same text)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="cuda (NCCL between processes) or cpu (Gloo); auto: cuda where there is one")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="float64 computes as char-rnn's CPU engine")
    p.add_argument("--log-every", type=int, help="print the loss every n steps (default: the run's)")
    p.add_argument("--eval-every", type=int, help="validate every n steps, 0 = only at the end (default: the run's)")
    p.add_argument("--torch-init", type=int, metavar="SEED", help="start from PyTorch's own initialisation drawn with this seed, not the checkpoint's weights (a run at step 0; its data order is kept)")
    p.add_argument("--log-file", metavar="FILE.jsonl", help="append one JSON line per logged step, as char-rnn train --log-file")
    return p.parse_args()


def setup(args, r, local):
    """Options against the run: the device, the step count, the intervals, the output paths."""
    cfg, run = r["cfg"], r["run"]
    want = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if want == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: PyTorch sees no CUDA GPU (torch.cuda.is_available() is False). Use --device cpu.")
    if want == "cuda" and local >= torch.cuda.device_count():
        raise InputError(f"Process {local} of this machine has no GPU of its own ({torch.cuda.device_count()} visible): give torchrun --nproc_per_node {torch.cuda.device_count()} or less.", own=True)
    for name, v, least in (("--steps", args.steps, run["step"]), ("--log-every", args.log_every, 1), ("--eval-every", args.eval_every, 0)):
        if v is not None and v < least:
            raise InputError(f"Bad {name} {v}: it must be an integer >= {least}" + (f" (the step {args.resume} is at)." if name == "--steps" else "."))
    for key, v in (("steps", args.steps), ("logEvery", args.log_every), ("evalEvery", args.eval_every)):
        cfg[key] = v if v is not None else cfg[key]
    cfg["steps"] = max(cfg["steps"], run["step"])
    if args.torch_init is not None and run["step"] != 0:
        raise InputError(f"--torch-init starts a run afresh: {args.resume} is at step {run['step']}, not 0 (write one with char-rnn train --steps 0 --save).")
    check_output(args.save)
    if args.log_file:
        try:
            open(args.log_file, "a").close()
        except OSError as e:
            raise InputError(f"--log-file {args.log_file} cannot be appended to ({e.strerror}).")
    return torch.device("cuda", local) if want == "cuda" else torch.device("cpu")


def main():
    args = parse_args()
    world, rank, local = (int(os.environ.get(k, d)) for k, d in (("WORLD_SIZE", "1"), ("RANK", "0"), ("LOCAL_RANK", "0")))
    say = (lambda s: print(s, flush=True)) if rank == 0 else (lambda s: None)
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    try:  # everything is checked before any work, identically in every process
        r = load_run(args.resume, dtype)
        device = setup(args, r, local)
        ids, record = read_text(args, r)
        train_ids, val, plan = plan_data(ids, r["cfg"], r["run"], world, args.resume)
    except InputError as e:
        if rank == 0 or e.own:
            print(f"train_pytorch.py: {e}", file=sys.stderr)
        sys.exit(2)
    cfg, run = r["cfg"], r["run"]
    if "RANK" in os.environ:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    say(f"train_pytorch: {len(train_ids):,} training characters from {record['source']}" + (f" (+{len(val):,} validation)" if val is not None else "") +
        f", vocabulary {len(r['vocab'])}, {r['cell']} x {r['L']} layer{'s' if r['L'] > 1 else ''}, hidden {r['H']}" +
        (f", dropout {cfg['dropout']} (torch's masks)" if cfg["dropout"] else "") + f", batch {plan['B']} x {plan['T']} timesteps, {cfg['optimizer']} lr {cfg['lr']}" +
        (f" ({cfg['schedule']})" if cfg["schedule"] != "constant" else "") + (f" clip {cfg['clip']}" if cfg["clip"] else "") +
        (f" clip-norm {cfg['clipNorm']}" if cfg["clipNorm"] else "") + f"; {world} process{'es' if world > 1 else ''}" +
        (f" ({'nccl' if device.type == 'cuda' else 'gloo'})" if dist.is_initialized() else "") + f", {device.type}, {args.dtype}; resuming {args.resume} at step {run['step']}")
    try:
        steps, seconds, last = train(args, r, (train_ids, val), record, plan, world, rank, device, dtype, say)
    except Diverged as e:
        if rank == 0:
            print(f"train_pytorch.py: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    cps = round(steps * plan["B"] * plan["T"] / max(seconds, 1e-9))
    v = f", validation {last['val_loss']:.4f} nats/char = {last['val_bpc']:.3f} bits/char, perplexity {last['val_perplexity']:.2f}" if last.get("val_loss") is not None else ""
    say(f"trained {steps} steps in {seconds:.2f} s ({cps:,} chars/s)" + (f", loss {last['train_loss']:.4f}" if last else "") + v)
    say(f"saved {args.save} (step {run['step'] + steps})")


if __name__ == "__main__":
    main()
