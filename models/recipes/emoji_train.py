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

import numpy as np
import torch
import torch.nn.functional as F

import emoji_nets as N

# One thread: with the cores shared, a second OpenMP thread waits at barriers more than it helps
# (measured 1.2 s vs 3.0 s per VAE step under load).
torch.set_num_threads(int(os.environ.get("KILN_TRAIN_THREADS", "1")))


class Run:
    """A resumable training run: model(s) + optimiser state saved every `every` seconds."""

    def __init__(self, name, modules, opt, steps, every=180, warmup=200):
        self.name, self.modules, self.opt, self.steps, self.every = name, modules, opt, steps, every
        self.warmup = warmup
        self.path = N.CKPT / f"{name}.pt"
        self.step, self.t_train, self.hist = 0, 0.0, []
        N.CKPT.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            s = torch.load(self.path)
            for k, m in modules.items():
                m.load_state_dict(s["modules"][k])
            # a checkpoint taken mid-run holds the scheduled rate of that moment; the base rate is the one
            # given now, or a resumed run would scale an already scaled rate
            base = [g["lr"] for g in opt.param_groups]
            opt.load_state_dict(s["opt"])
            for g, lr in zip(opt.param_groups, base):
                g["lr"] = lr
            self.step, self.t_train, self.hist = s["step"], s["t_train"], s["hist"]
            print(f"[{name}] resumed at step {self.step} ({self.t_train / 60:.1f} min trained)", flush=True)
        self.last_save = time.time()

    def lr_scale(self):
        s = self.step
        return min(1.0, (s + 1) / self.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s / self.steps)))

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



# --------------------------------------------------------------------------------------------
# Shared inputs of the later stages: VAE latents and the caption token states from Kiln's encoder


def load_vae():
    vae = N.AutoencoderKL()
    vae.load_state_dict(torch.load(N.CKPT / "vae.pt")["modules"]["vae"])
    return vae.eval()


def vae_stats():
    return json.loads((N.WORK / "vae_stats.json").read_text())


class Conditioning:
    """Token states [N,32,384] (fp16 on disk) and masks written by EncodeCaptions.java; row 0 is ""."""

    def __init__(self):
        lines = (N.WORK / "captions-all.txt").read_text().split("\n")
        self.row = {c: i for i, c in enumerate(lines) if i == 0 or c}
        self.states = torch.from_numpy(np.load(N.WORK / "captions-states.npy"))
        self.mask = torch.from_numpy(np.load(N.WORK / "captions-mask.npy")).float()
        if self.states.shape[0] != len(self.row) or lines[0] != "":
            raise SystemExit("captions-*.npy do not match captions-all.txt: run EncodeCaptions.java again")

    def rows(self, captions):
        return torch.tensor([self.row[c] for c in captions])

    def sentence(self, rows):
        """MiniLM sentence embeddings: mean over real tokens, L2-normalised (sentence-transformers)."""
        h, m = self.states[rows].float(), self.mask[rows][:, :, None]
        return F.normalize((h * m).sum(1) / m.sum(1), dim=-1)


@torch.no_grad()
def encode_latents(vae, rows):
    x = N.to_signed(N.load_images(rows))
    means, stds = [], []
    for i in range(0, len(x), 256):
        m, lv = vae.encode(x[i:i + 256])
        means.append(m)
        stds.append(torch.exp(0.5 * lv))
    return torch.cat(means), torch.cat(stds)


def generator_data():
    rows = N.select(N.load_index(), N.GENERATOR_STYLES, "train")
    cache = N.WORK / "latents-train.pt"
    if cache.exists():
        mean, std = torch.load(cache)
    else:
        mean, std = encode_latents(load_vae(), rows)
        torch.save((mean, std), cache)
    return rows, mean, std


# --------------------------------------------------------------------------------------------


def train_unet(args):
    sf = vae_stats()["scaling_factor"]
    rows, mean, std = generator_data()
    cond = Conditioning()
    caps = cond.rows([r["caption"] for r in rows])
    ac = N.scaled_linear_alphas_cumprod()
    torch.manual_seed(1)
    unet = N.UNet2DConditionModel(tuple(args.ch))
    (N.WORK / "unet_config.json").write_text(json.dumps({"ch": args.ch}) + "\n")
    print(f"[unet] {N.count(unet)} params, {len(rows)} training images, scaling factor {sf:.5f}", flush=True)
    opt = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=0.01)
    ema = N.UNet2DConditionModel(tuple(args.ch))
    ema.load_state_dict(unet.state_dict())
    run = Run("unet", {"unet": unet, "ema": ema}, opt, args.steps)

    def body(g):
        i = torch.randint(0, len(rows), (args.batch,), generator=g)
        z0 = (mean[i] + std[i] * torch.randn(mean[i].shape, generator=g)) * sf
        t = torch.randint(0, 1000, (args.batch,), generator=g)
        eps = torch.randn(z0.shape, generator=g)
        a = ac[t][:, None, None, None]
        zt = a.sqrt() * z0 + (1 - a).sqrt() * eps
        r = torch.where(torch.rand(args.batch, generator=g) < args.drop, torch.zeros_like(caps[i]), caps[i])
        ctx = cond.states[r].float()
        loss = F.mse_loss(unet(zt, t.float(), ctx, ctx), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            d = min(args.ema, (1 + run.step) / (10 + run.step))
            for pe, p in zip(ema.parameters(), unet.parameters()):
                pe.mul_(d).add_(p, alpha=1 - d)
        return {"loss": loss}

    run.loop(body)


def train_evaluator(args):
    rows = N.select(N.load_index(), N.STYLES, "train")
    images = N.load_images(rows)
    cond = Conditioning()
    text = cond.sentence(cond.rows([r["caption"] for r in rows]))
    style = torch.tensor([N.STYLES.index(r["style"]) for r in rows])
    torch.manual_seed(2)
    ev = N.EmojiEvaluator()
    print(f"[evaluator] {N.count(ev)} params, {len(rows)} training images (all styles)", flush=True)
    opt = torch.optim.AdamW(ev.parameters(), lr=args.lr, weight_decay=0.05)
    run = Run("evaluator", {"evaluator": ev}, opt, args.steps)

    def body(g):
        i = torch.randint(0, len(rows), (args.batch,), generator=g)
        x = N.to_signed(images[i])
        # small shifts: the judge should not depend on exact pixel alignment of generated images
        dx, dy = torch.randint(-2, 3, (2,), generator=g).tolist()
        x = torch.roll(x, (dy, dx), dims=(2, 3))
        emb, logits = ev(x)
        tx = text[i]
        sim = emb @ tx.T * ev.logit_scale.exp().clamp(max=100)
        # the same caption can appear twice in a batch: both count as positives
        same = (tx @ tx.T > 0.9999).float()
        target = same / same.sum(1, keepdim=True)
        clip = 0.5 * (-(target * sim.log_softmax(1)).sum(1).mean() - (target * sim.log_softmax(0)).sum(0).mean())
        ce = F.cross_entropy(logits, style[i])
        loss = clip + 0.5 * ce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"clip": clip, "style": ce, "acc": (logits.argmax(1) == style[i]).float().mean()}

    run.loop(body)


def train_cdec(args):
    """Consistency training in OpenAI's parameterisation: f(x_t) = c_skip x_t + c_out F(c_in x_t, t, z).

    Targets are the real images; the loss is the boundary-anchored regression to x0 at random t plus the
    consistency term between adjacent steps of the discrete cosine table (EMA target, same noise)."""
    stats = vae_stats()
    rows, mean, std = generator_data()
    images = N.load_images(rows)
    torch.manual_seed(3)
    dec = N.ConsistencyDecoderUNet(tuple(args.ch), stats["train"]["latent_channel_mean"],
                                   stats["train"]["latent_channel_std"])
    ema = N.ConsistencyDecoderUNet(tuple(args.ch), stats["train"]["latent_channel_mean"],
                                   stats["train"]["latent_channel_std"])
    ema.load_state_dict(dec.state_dict())
    (N.WORK / "cdec_config.json").write_text(json.dumps({"ch": args.ch}) + "\n")
    print(f"[cdec] {N.count(dec)} params, {len(rows)} training images", flush=True)
    opt = torch.optim.AdamW(dec.parameters(), lr=args.lr, weight_decay=0.0)
    run = Run("cdec", {"cdec": dec, "ema": ema}, opt, args.steps)

    def f(model, x, t, z):
        _, c_skip, c_out, c_in = (c[:, None, None, None] for c in N.consistency_coefficients(t))
        return c_skip * x + c_out * model(c_in * x, t.float(), z)

    ac_table = N.consistency_alphas_cumprod()

    def body(g):
        i = torch.randint(0, len(rows), (args.batch,), generator=g)
        x0 = N.to_signed(images[i])
        z = mean[i] + std[i] * torch.randn(mean[i].shape, generator=g)
        # half the batch at the two sampling steps, half uniform over the table
        t = torch.randint(1, 1024, (args.batch,), generator=g)
        t[: args.batch // 4] = 1008
        t[args.batch // 4: args.batch // 2] = 512
        noise = torch.randn(x0.shape, generator=g)
        a = ac_table[t][:, None, None, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        pred = f(dec, xt, t, z)
        rec = F.mse_loss(pred, x0) + (pred - x0).abs().mean()
        s = (t - 16).clamp(min=0)
        a_s = ac_table[s][:, None, None, None]
        xs = a_s.sqrt() * x0 + (1 - a_s).sqrt() * noise
        with torch.no_grad():
            target = torch.where((s == 0)[:, None, None, None], x0, f(ema, xs, s.clamp(min=1), z))
        cons = F.mse_loss(pred, target)
        loss = rec + args.cons * cons
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), dec.parameters()):
                pe.mul_(0.99).add_(p, alpha=0.01)
        return {"rec": rec, "cons": cons}

    run.loop(body)



def load_teacher():
    ch = tuple(json.loads((N.WORK / "unet_config.json").read_text())["ch"])
    unet = N.UNet2DConditionModel(ch)
    unet.load_state_dict(torch.load(N.CKPT / "unet.pt")["modules"]["ema"])
    return unet.eval(), ch


def guided_eps(unet, x, t, ctx, unc, g):
    e = unet(torch.cat([x, x]), torch.cat([t, t]), torch.cat([unc, ctx]), torch.cat([unc, ctx]))
    eu, ec = e.chunk(2)
    return eu + g * (ec - eu)


@torch.no_grad()
def ddim_sample(unet, z, ctx, unc, g, steps, ac):
    """diffusers DDIM (eta 0, trailing spacing, set_alpha_to_one false): noise -> x0 latent (scaled)."""
    ts = [int(round(v)) - 1 for v in torch.arange(1000, 0, -1000 / steps).tolist()]
    x = z
    for k, t in enumerate(ts):
        tt = torch.full((x.shape[0],), float(t))
        e = guided_eps(unet, x, tt, ctx, unc, g)
        a = ac[t]
        a_prev = ac[ts[k + 1]] if k + 1 < len(ts) else ac[0]
        x0 = (x - (1 - a).sqrt() * e) / a.sqrt()
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * e
    return x


class Optimizers:
    """Two optimisers checkpointed and scheduled as one (generator and fake score model)."""

    def __init__(self, *opts):
        self.opts = opts

    @property
    def param_groups(self):
        return [g for o in self.opts for g in o.param_groups]

    def state_dict(self):
        return [o.state_dict() for o in self.opts]

    def load_state_dict(self, s):
        for o, st in zip(self.opts, s):
            o.load_state_dict(st)


def ode_pairs(teacher, cond, rows, n, g, steps, ac):
    """Teacher noise -> latent pairs (DDIM, guidance g), the regression targets of DMD; cached."""
    cache = N.WORK / f"ode-pairs-{n}-{steps}-{g}.pt"
    if cache.exists():
        return torch.load(cache)
    gen = torch.Generator().manual_seed(4)
    pick = torch.randint(0, len(rows), (n,), generator=gen)
    caps = cond.rows([rows[i]["caption"] for i in pick.tolist()])
    z = torch.randn((n, 4, 8, 8), generator=gen)
    unc = cond.states[0].float()[None]
    out = []
    for s in range(0, n, 128):
        ctx = cond.states[caps[s:s + 128]].float()
        out.append(ddim_sample(teacher, z[s:s + 128], ctx, unc.expand(len(ctx), -1, -1), g, steps, ac))
        print(f"[student] ode pairs {s + len(ctx)}/{n}", flush=True)
    pairs = (caps, z, torch.cat(out))
    torch.save(pairs, cache)
    return pairs


def train_student(args):
    """DMD: distribution matching against an online fake score model + regression to teacher ODE pairs."""
    rows, _, _ = generator_data()
    cond = Conditioning()
    ac = N.scaled_linear_alphas_cumprod()
    teacher, ch = load_teacher()
    for p in teacher.parameters():
        p.requires_grad_(False)
    caps, zs, x0s = ode_pairs(teacher, cond, rows, args.pairs, args.guidance, args.pair_steps, ac)
    student = N.UNet2DConditionModel(ch)
    student.load_state_dict(teacher.state_dict())
    fake = N.UNet2DConditionModel(ch)
    fake.load_state_dict(teacher.state_dict())
    opt_g = torch.optim.AdamW(student.parameters(), lr=args.lr, weight_decay=0.0)
    opt_f = torch.optim.AdamW(fake.parameters(), lr=args.lr_fake, weight_decay=0.0)
    run = Run("student", {"student": student, "fake": fake}, Optimizers(opt_g, opt_f), args.steps, every=90, warmup=20)
    unc = cond.states[0].float()[None]
    a999 = ac[999]
    print(f"[student] {N.count(student)} params, {len(zs)} ODE pairs, guidance {args.guidance}", flush=True)

    def one_step(z, ctx):
        return (z - (1 - a999).sqrt() * student(z, torch.full((z.shape[0],), 999.0), ctx, ctx)) / a999.sqrt()

    def body(g):
        i = torch.randint(0, len(zs), (args.batch,), generator=g)
        ctx = cond.states[caps[i]].float()
        x0 = one_step(zs[i], ctx)
        reg = F.mse_loss(x0, x0s[i])
        # distribution matching on fresh noise (prompts from the pairs)
        z = torch.randn(zs[i].shape, generator=g)
        xg = one_step(z, ctx)
        t = torch.randint(20, 981, (args.batch,), generator=g)
        a = ac[t][:, None, None, None]
        noise = torch.randn(xg.shape, generator=g)
        xt = a.sqrt() * xg + (1 - a).sqrt() * noise
        with torch.no_grad():
            e_real = guided_eps(teacher, xt, t.float(), ctx, unc.expand(len(ctx), -1, -1), args.guidance)
            e_fake = fake(xt, t.float(), ctx, ctx)
            p_real = (xt - (1 - a).sqrt() * e_real) / a.sqrt()
            p_fake = (xt - (1 - a).sqrt() * e_fake) / a.sqrt()
            w = (xg - p_real).abs().mean(dim=(1, 2, 3), keepdim=True).clamp(min=1e-4)
            grad = (p_fake - p_real) / w
        dm = 0.5 * F.mse_loss(xg, (xg - grad).detach())
        loss_g = args.dm * dm + args.reg * reg
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt_g.step()
        # the fake score model learns the student's current output distribution
        tf = torch.randint(0, 1000, (args.batch,), generator=g)
        af = ac[tf][:, None, None, None]
        nf = torch.randn(xg.shape, generator=g)
        xf = af.sqrt() * xg.detach() + (1 - af).sqrt() * nf
        loss_f = F.mse_loss(fake(xf, tf.float(), ctx, ctx), nf)
        opt_f.zero_grad(set_to_none=True)
        loss_f.backward()
        opt_f.step()
        return {"reg": reg, "dm": dm, "fake": loss_f}

    run.loop(body, log_every=20)



@torch.no_grad()
def retrieval(ev, images, text):
    """Top-1 of each image's own caption among its block of 100 (the `kiln eval` definition)."""
    emb, logits = ev(images)
    hits = []
    for s in range(0, len(images) - 99, 100):
        sim = emb[s:s + 100] @ text[s:s + 100].T
        hits.append((sim.argmax(1) == torch.arange(100)).float().mean().item())
    return sum(hits) / len(hits), logits


@torch.no_grad()
def choose_guidance(args):
    """Teacher retrieval (DDIM, few steps) on held-in prompts for a few guidance scales; the best wins."""
    teacher, _ = load_teacher()
    vae = load_vae()
    sf = vae_stats()["scaling_factor"]
    ev = N.EmojiEvaluator()
    ev.load_state_dict(torch.load(N.CKPT / "evaluator.pt")["modules"]["evaluator"])
    ev.eval()
    cond = Conditioning()
    prompts = json.loads((N.ROOT.parents[1] / "models/emoji-tiny/eval/prompts.json").read_text())["prompts"]
    held_in = [p for p in prompts if p["split"] == "train"][:args.n]
    rows = cond.rows([p["caption"] for p in held_in])
    ctx = cond.states[rows].float()
    text = cond.sentence(rows)
    unc = cond.states[0].float()[None].expand(len(ctx), -1, -1)
    z = torch.randn((len(ctx), 4, 8, 8), generator=torch.Generator().manual_seed(7))
    ac = N.scaled_linear_alphas_cumprod()
    result = {}
    for g in args.scales:
        x0 = ddim_sample(teacher, z, ctx, unc, g, args.steps, ac)
        img = vae.decoder(x0 / sf).clamp(-1, 1)
        r, _ = retrieval(ev, img, text)
        result[str(g)] = round(r, 4)
        print(f"[guidance] g={g} DDIM-{args.steps} held-in retrieval {r:.3f}", flush=True)
    best = max(result, key=result.get)
    out = {"steps": args.steps, "n": len(ctx), "retrieval": result, "best": float(best)}
    (N.WORK / "guidance.json").write_text(json.dumps(out, indent=1) + "\n")
    print("[guidance] " + json.dumps(out), flush=True)



def summary(args):
    """Training record of every stage (steps, minutes, last logged losses) for the model card.

    A stage whose checkpoint or record is not on this machine keeps its entry from the committed
    record: checkpoints are rebuilt on a new machine, but a guidance sweep is not re-run."""
    record = N.ROOT.parents[1] / "models/emoji-tiny/training.json"
    out = json.loads(record.read_text()) if record.exists() else {}
    for name in ("vae", "evaluator", "unet", "cdec", "student"):
        path = N.CKPT / f"{name}.pt"
        if path.exists():
            s = torch.load(path)
            modules = {k: N.count_state(v) for k, v in s["modules"].items()}
            out[name] = {"steps": s["step"], "train_minutes": round(s["t_train"] / 60, 1),
                         "params": modules, "last": s["hist"][-1] if s["hist"] else None}
    for f in ("vae_stats.json", "guidance.json"):
        if (N.WORK / f).exists():
            out[f[:-5]] = json.loads((N.WORK / f).read_text())
    text = json.dumps(out, indent=1) + "\n"
    record.write_text(text)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("vae")
    v.add_argument("--steps", type=int, default=3000)
    v.add_argument("--batch", type=int, default=32)
    v.add_argument("--kl", type=float, default=1e-4)
    u = sub.add_parser("unet")
    u.add_argument("--steps", type=int, default=2000)
    u.add_argument("--batch", type=int, default=64)
    u.add_argument("--lr", type=float, default=1e-3)
    u.add_argument("--drop", type=float, default=0.1, help="caption dropout for guidance")
    u.add_argument("--ema", type=float, default=0.995)
    u.add_argument("--ch", type=int, nargs=2, default=[32, 64])
    e = sub.add_parser("evaluator")
    e.add_argument("--steps", type=int, default=800)
    e.add_argument("--batch", type=int, default=64)
    e.add_argument("--lr", type=float, default=2e-3)
    c = sub.add_parser("cdec")
    c.add_argument("--steps", type=int, default=600)
    c.add_argument("--batch", type=int, default=32)
    c.add_argument("--lr", type=float, default=1e-3)
    c.add_argument("--cons", type=float, default=1.0)
    c.add_argument("--ch", type=int, nargs=2, default=[16, 32])
    d = sub.add_parser("student")
    d.add_argument("--steps", type=int, default=600)
    d.add_argument("--batch", type=int, default=32)
    d.add_argument("--lr", type=float, default=2e-5)
    d.add_argument("--lr-fake", type=float, default=1e-4)
    d.add_argument("--guidance", type=float, default=3.0)
    d.add_argument("--pairs", type=int, default=1024)
    d.add_argument("--pair-steps", type=int, default=20)
    d.add_argument("--dm", type=float, default=1.0)
    d.add_argument("--reg", type=float, default=1.0)
    gd = sub.add_parser("guidance")
    gd.add_argument("--scales", type=float, nargs="+", default=[1.0, 2.0, 3.0, 5.0])
    gd.add_argument("--steps", type=int, default=10)
    gd.add_argument("--n", type=int, default=100)
    sub.add_parser("summary")
    args = ap.parse_args()
    {"summary": summary, "guidance": choose_guidance, "student": train_student, "vae": train_vae, "unet": train_unet, "evaluator": train_evaluator, "cdec": train_cdec}[args.cmd](args)


if __name__ == "__main__":
    main()
