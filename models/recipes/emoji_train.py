#!/usr/bin/python3
"""Trains the emoji-tiny models on the dataset of emoji_data.py. One sub-command per model:

  vae        AutoencoderKL 3x32x32 <-> 4x8x8, measures the latent scaling factor
  (more stages are added below as the recipe grows)

Every stage runs a fixed number of steps from a fixed seed, checkpoints to models/recipes/work/ckpt/
every few minutes and resumes from there when started again (the batches after a resume are drawn
from a generator re-seeded with the step, so a resumed run sees the same data order as a straight
one). Logs go to stdout; run under nohup with `nice` while others share the two cores:

  nohup nice -n 5 /usr/bin/python3 models/recipes/emoji_train.py vae > models/recipes/work/vae.log 2>&1 &
"""

import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F

import emoji_nets as N

# One thread: with the cores shared, a second OpenMP thread waits at barriers more than it helps
# (measured 1.2 s vs 3.0 s per VAE step under load).
torch.set_num_threads(int(os.environ.get("KILN_TRAIN_THREADS", "1")))


class Run:
    """A resumable training run: model(s) + optimiser state saved every `every` seconds."""

    def __init__(self, name, modules, opt, steps, every=180):
        self.name, self.modules, self.opt, self.steps, self.every = name, modules, opt, steps, every
        self.path = N.CKPT / f"{name}.pt"
        self.step, self.t_train, self.hist = 0, 0.0, []
        N.CKPT.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            s = torch.load(self.path)
            for k, m in modules.items():
                m.load_state_dict(s["modules"][k])
            opt.load_state_dict(s["opt"])
            self.step, self.t_train, self.hist = s["step"], s["t_train"], s["hist"]
            print(f"[{name}] resumed at step {self.step} ({self.t_train / 60:.1f} min trained)", flush=True)
        self.last_save = time.time()

    def lr_scale(self, warmup=200):
        s = self.step
        return min(1.0, (s + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s / self.steps)))

    def generator(self):
        return torch.Generator().manual_seed(1_000_003 * self.step + 17)

    def save(self):
        torch.save({"modules": {k: m.state_dict() for k, m in self.modules.items()},
                    "opt": self.opt.state_dict(), "step": self.step, "t_train": self.t_train,
                    "hist": self.hist}, str(self.path) + ".tmp")
        (N.CKPT / f"{self.name}.pt.tmp").replace(self.path)
        self.last_save = time.time()

    def loop(self, body, log_every=50):
        base_lr = [g["lr"] for g in self.opt.param_groups]
        acc, n, t_log = {}, 0, time.time()
        while self.step < self.steps:
            t0 = time.time()
            for g, lr in zip(self.opt.param_groups, base_lr):
                g["lr"] = lr * self.lr_scale()
            losses = body(self.generator())
            self.step += 1
            self.t_train += time.time() - t0
            for k, v in losses.items():
                acc[k] = acc.get(k, 0.0) + float(v)
            n += 1
            if self.step % log_every == 0 or self.step == self.steps:
                means = {k: round(v / n, 5) for k, v in acc.items()}
                self.hist.append({"step": self.step, "min": round(self.t_train / 60, 2), **means})
                print(f"[{self.name}] step {self.step}/{self.steps} {means} "
                      f"{(time.time() - t_log) / n:.3f}s/step {self.t_train / 60:.1f}min", flush=True)
                acc, n, t_log = {}, 0, time.time()
            if time.time() - self.last_save > self.every:
                self.save()
        for g, lr in zip(self.opt.param_groups, base_lr):
            g["lr"] = lr
        self.save()


def batch_of(images, g, size):
    return images[torch.randint(0, len(images), (size,), generator=g)]


def augment(x, g):
    """Random horizontal flip; emoji are mostly symmetric enough and the VAE only reconstructs."""
    flip = torch.rand(x.shape[0], generator=g) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


# --------------------------------------------------------------------------------------------


def train_vae(args):
    rows = N.load_index()
    train = N.select(rows, N.GENERATOR_STYLES, "train")
    images = N.load_images(train)
    torch.manual_seed(0)
    vae = N.AutoencoderKL()
    print(f"[vae] {N.count(vae)} params, {len(images)} training images", flush=True)
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0)
    run = Run("vae", {"vae": vae}, opt, args.steps)

    def body(g):
        x = augment(N.to_signed(batch_of(images, g, args.batch)), g)
        rec, mean, logvar = vae(x, generator=g)
        l1 = (rec - x).abs().mean()
        mse = ((rec - x) ** 2).mean()
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
        loss = l1 + mse + args.kl * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"l1": l1, "mse": mse, "kl": kl}

    run.loop(body)
    measure_vae(vae, rows)


@torch.no_grad()
def measure_vae(vae, rows):
    vae.eval()
    out = {}
    g = torch.Generator().manual_seed(5)
    for split in ("train", "holdout"):
        sel = N.select(rows, N.GENERATOR_STYLES, split)
        x = N.to_signed(N.load_images(sel))
        mean, logvar = vae.encode(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g)
        rec = vae.decoder(z).clamp(-1, 1)
        mse = ((rec - x) ** 2).mean(dim=(1, 2, 3))
        psnr = (10 * torch.log10(4.0 / mse)).mean().item()
        out[split] = {"psnr": round(psnr, 3), "latent_std": z.std().item(),
                      "latent_channel_mean": z.mean(dim=(0, 2, 3)).tolist(),
                      "latent_channel_std": z.std(dim=(0, 2, 3)).tolist()}
    out["scaling_factor"] = 1.0 / out["train"]["latent_std"]
    (N.WORK / "vae_stats.json").write_text(json.dumps(out, indent=2) + "\n")
    print("[vae] " + json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("vae")
    v.add_argument("--steps", type=int, default=3000)
    v.add_argument("--batch", type=int, default=32)
    v.add_argument("--kl", type=float, default=1e-4)
    args = ap.parse_args()
    {"vae": train_vae}[args.cmd](args)


if __name__ == "__main__":
    main()
