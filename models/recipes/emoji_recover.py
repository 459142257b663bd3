#!/usr/bin/python3
"""Rebuilds emoji_train.py's checkpoints from the committed emoji-tiny package.

Checkpoints live in an ignored folder and are gone on a new machine; the committed ONNX files hold
the same weights. This lets training resume where the committed package stopped instead of starting
over (and keeps the VAE latent space that the decoders and the teacher were trained on).

How: each component is built fresh with every parameter and buffer filled with distinct random
values and exported by emoji_export.export_onnx into a temporary folder. Both exports come from the
same code, so their initializer names agree; an initializer's values identify the parameter it came
from (as is, or transposed for MatMul weights). The committed initializer of the same name then
fills that parameter. Initializers that are no parameter (folded constants) must be equal in both
exports. The recovered modules are checked against the package's reference.json (the PyTorch
outputs recorded at export) and the teacher against its TorchScript twin.

Optimiser state is not in the package: a resumed run starts a fresh AdamW (after warm-up, with the
step count and learning-rate schedule position taken from training.json).

  /usr/bin/python3 models/recipes/emoji_recover.py [--package DIR]
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

import emoji_export as X
import emoji_nets as N
from fixtures import sin_tensor

REPO = N.ROOT.parents[1]


def initializers(path):
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}


def fill_distinct(modules, seed=11):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in modules:
            for t in list(m.parameters()) + list(m.buffers()):
                if t.is_floating_point():
                    t.copy_(torch.randn(t.shape, generator=g))


def tensor_index(module):
    """bytes of each float tensor (and of its transpose, for 2-D) -> (state name, transposed)."""
    index = {}
    for name, t in module.state_dict().items():
        if not t.is_floating_point():
            continue
        a = t.detach().numpy().astype(np.float32)
        index.setdefault(a.tobytes(), (name, False))
        if a.ndim == 2:
            index.setdefault(np.ascontiguousarray(a.T).tobytes(), (name, True))
    return index


def recover(module, fresh_onnx, committed_onnx, label, unused=()):
    """Copies the committed initializers into `module`, whose current values made `fresh_onnx`.
    `unused` names tensors that only training reads (absent from the graph): they get `module`'s
    constructor values back, passed in as a fresh module."""
    index = tensor_index(module)
    fresh, committed = initializers(fresh_onnx), initializers(committed_onnx)
    if fresh.keys() != committed.keys():
        raise SystemExit(f"{label}: the committed graph's initializers differ from a fresh export's; "
                         "emoji_nets.py changed since the package was exported")
    state = module.state_dict()
    filled = set()
    for name, a in fresh.items():
        hit = index.get(np.ascontiguousarray(a.astype(np.float32)).tobytes()) if a.dtype == np.float32 else None
        if hit is None:
            if not np.array_equal(a, committed[name]):
                raise SystemExit(f"{label}: initializer {name} is neither a parameter nor a shared constant")
            continue
        key, transposed = hit
        value = committed[name].T if transposed else committed[name]
        state[key] = torch.from_numpy(np.ascontiguousarray(value)).reshape(state[key].shape).clone()
        filled.add(key)
    for m in unused:
        for k, t in m.state_dict().items():
            if k not in filled:
                state[k] = t.clone()
                filled.add(k)
                print(f"[recover] {label}: {k} is not in the graph; constructor value", flush=True)
    missing = [k for k, t in state.items() if t.is_floating_point() and k not in filled]
    if missing:
        raise SystemExit(f"{label}: no initializer found for {missing[:5]}")
    module.load_state_dict(state)
    print(f"[recover] {label}: {len(filled)} tensors from {committed_onnx.relative_to(REPO)}", flush=True)


def check(reference, name, outputs):
    case = next(c for c in reference["cases"] if c["name"] == name)
    tol = reference["tolerance"]["abs"]
    for out_name, got in outputs.items():
        want = case["outputs"][out_name]
        flat = got.detach().reshape(-1)
        stride = want["strided"]["stride"]
        pairs = list(zip(flat[:len(want["first"])].tolist(), want["first"]))
        pairs += [(flat[i * stride].item(), v) for i, v in enumerate(want["strided"]["values"])]
        worst = max(abs(a - b) for a, b in pairs)
        if worst > tol:
            raise SystemExit(f"{name}.{out_name}: recovered weights differ from reference.json by {worst:.2e}")
    print(f"[recover] {name}: matches reference.json", flush=True)


def inputs(reference, name):
    case = next(c for c in reference["cases"] if c["name"] == name)
    out = []
    for spec in case["inputs"].values():
        if "sin" in spec:
            s = spec["sin"]
            out.append(sin_tensor(spec["shape"], s["scale"], s["freq"], s["phase"]))
        else:
            out.append(torch.tensor(spec["values"], dtype=torch.float32).reshape(spec["shape"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--package", type=Path, default=REPO / "models" / "emoji-tiny")
    args = ap.parse_args()
    pkg = args.package
    record = json.loads((pkg / "training.json").read_text())
    reference = json.loads((pkg / "reference.json").read_text())
    kiln = json.loads((pkg / "kiln.json").read_text())
    ch = tuple(record.get("unet_config", {}).get("ch", (32, 64)))
    cdec_ch = (16, 32)

    vae, teacher, student = N.AutoencoderKL(), N.UNet2DConditionModel(ch), N.UNet2DConditionModel(ch)
    cdec = N.ConsistencyDecoderUNet(cdec_ch, [0.0] * 4, [1.0] * 4)
    ev = N.EmojiEvaluator()
    fill_distinct([vae, teacher, student, cdec, ev])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        X.export_onnx(tmp, teacher, student, vae, cdec, ev)
        recover(teacher, tmp / "unet/model.onnx", pkg / "unet/model.onnx", "teacher")
        recover(student, tmp / "student_unet/model.onnx", pkg / "student_unet/model.onnx", "student")
        recover(vae.encoder, tmp / "vae_encoder/model.onnx", pkg / "vae_encoder/model.onnx", "vae encoder")
        recover(vae.decoder, tmp / "vae_decoder/model.onnx", pkg / "vae_decoder/model.onnx", "vae decoder")
        recover(cdec, tmp / "consistency_decoder/model.onnx", pkg / "consistency_decoder/model.onnx", "cdec")
        recover(ev, tmp / "evaluator/model.onnx", pkg / "evaluator/model.onnx", "evaluator",
                unused=[N.EmojiEvaluator()])

    with torch.no_grad():
        for m in (vae, teacher, student, cdec, ev):
            m.eval()
        check(reference, "teacher", {"out_sample": teacher(*inputs(reference, "teacher"))})
        check(reference, "student", {"out_sample": student(*inputs(reference, "student"))})
        check(reference, "vae_encoder", {"latent_parameters": vae.encoder(*inputs(reference, "vae_encoder"))})
        check(reference, "vae_decoder", {"sample": vae.decoder(*inputs(reference, "vae_decoder"))})
        check(reference, "consistency_decoder", {"out": cdec(*inputs(reference, "consistency_decoder"))})
        emb, logits = ev(*inputs(reference, "evaluator"))
        check(reference, "evaluator", {"image_embedding": emb, "style_logits": logits})
        twin = torch.jit.load(str(pkg / "unet_torchscript/model.pt")).state_dict()
        for k, v in teacher.state_dict().items():
            if not torch.equal(twin[k], v):
                raise SystemExit(f"teacher: {k} differs from the TorchScript twin")
        print("[recover] teacher: equals the TorchScript twin", flush=True)

    def fresh_opt(module, lr):
        # a loaded optimiser state overrides the constructed learning rate: use each stage's default of emoji_train.py
        return torch.optim.AdamW(module.parameters(), lr=lr).state_dict()

    def save(name, modules, opt):
        rec = record[name]
        torch.save({"modules": {k: m.state_dict() for k, m in modules.items()}, "opt": opt,
                    "step": rec["steps"], "t_train": rec["train_minutes"] * 60,
                    "hist": [rec["last"]] if rec.get("last") else []}, N.CKPT / f"{name}.pt")

    N.CKPT.mkdir(parents=True, exist_ok=True)
    save("vae", {"vae": vae}, fresh_opt(vae, 1e-3))
    save("evaluator", {"evaluator": ev}, fresh_opt(ev, 2e-3))
    save("unet", {"unet": teacher, "ema": teacher}, fresh_opt(teacher, 1e-3))
    save("cdec", {"cdec": cdec, "ema": cdec}, fresh_opt(cdec, 1e-3))
    fake = N.UNet2DConditionModel(ch)
    fake.load_state_dict(teacher.state_dict())
    save("student", {"student": student, "fake": fake}, [fresh_opt(student, 2e-5), fresh_opt(fake, 1e-4)])
    (N.WORK / "unet_config.json").write_text(json.dumps({"ch": list(ch)}) + "\n")
    (N.WORK / "cdec_config.json").write_text(json.dumps({"ch": list(cdec_ch)}) + "\n")
    if "vae_stats" in record:
        (N.WORK / "vae_stats.json").write_text(json.dumps(record["vae_stats"], indent=2) + "\n")
    print(f"[recover] checkpoints in {N.CKPT}; scaling factor {kiln['conditioning']['scaling_factor']}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
