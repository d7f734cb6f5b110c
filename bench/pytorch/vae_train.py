#!/usr/bin/python3
"""PyTorch's side of elbo4j's training benchmarks: the same VAE, the same setup, the same data, on the CPU or a GPU.

The model is elbo4j's (dev.elbo4j.nn.ParameterLayout): an MLP encoder whose last layer writes [mu | logvar]
(2L outputs), a mirrored decoder writing D logits, ReLU between layers, nn.Linear layers named as elbo4j's
checkpoint names them (encoder.0.weight, ..., decoder.N.bias), so an elbo4j checkpoint loads with
load_state_dict unchanged. The loss is elbo4j's training loss: the batch mean of the Bernoulli negative
log-likelihood on the logits (binary cross-entropy with logits, the pixels / 255 as targets) plus the KL of
the diagonal Gaussian posterior to N(0, I), one latent sample per image. Adam: lr 1e-3, betas (0.9, 0.999),
eps 1e-8. Each step gathers its batch from the training images held as uint8 on the device, as elbo4j does.

Commands:
  speed    trains --steps steps (after --warmup steps), --repeats times, and prints steps/s per variant:
           eager; on a GPU also torch.compile of the step's forward and loss ("compile") and the same with
           mode="reduce-overhead" (CUDA graphs; "reduce-overhead"). The optimizer is torch.optim.Adam
           (fused=True on a GPU where PyTorch has it).
  agree    reads an elbo4j agreement fixture (dev.elbo4j.bench.AgreementFixture: the initial checkpoint, each
           step's batch, noise and gradients, and the parameters after the steps), trains the same steps from
           the same weights on the same batches and noise, and reports how far the losses, gradients and final
           parameters are from elbo4j's.
  quality  trains --epochs epochs from a shuffled order and prints the test negative ELBO after each.

On the CPU it must run on an optimized BLAS: Debian's python3-torch calls libblas.so.3, which must be
OpenBLAS (libopenblas0-pthread); the script looks at the libraries the process mapped after a matrix
product (/proc/self/maps) and refuses to run on the reference BLAS. It uses --threads threads for PyTorch
and for OpenBLAS.

usage: vae_train.py speed --model 784-400-20 --batch 128 [--device cpu|cuda] [--threads T] [--precision fp32|tf32]
                          [--variants eager,compile,reduce-overhead] [--steps N] [--warmup W] [--repeats R]
                          [--data DIR] [--json FILE] [--malloc tuned|glibc-default]
       vae_train.py agree --fixture DIR [--device cpu|cuda] [--threads T] [--json FILE]
       vae_train.py quality --model 784-400-20 --batch 128 --epochs N [--device ...] [--data DIR] [--json FILE]
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
EPOCH_IMAGES = 60000  # an epoch is Fashion-MNIST's training set, as in dev.elbo4j.bench.TrainingProblem


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub):
        sub.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
        sub.add_argument("--threads", type=int, default=os.cpu_count(),
                         help="PyTorch's and OpenBLAS's threads on the CPU (default: every processor)")
        sub.add_argument("--json", help="also write the results to this file")
        sub.add_argument("--malloc", default="tuned", choices=["tuned", "glibc-default"],
                         help="on the CPU, raise glibc's malloc thresholds before torch loads (tuned, the default) "
                              "or leave malloc as glibc starts (glibc-default)")

    speed = commands.add_parser("speed", help="steps per second")
    common(speed)
    speed.add_argument("--model", required=True, help="D-H1-...-L, e.g. 784-400-20")
    speed.add_argument("--batch", type=int, required=True)
    speed.add_argument("--precision", default="fp32", choices=["fp32", "tf32"])
    speed.add_argument("--variants", default="eager", help="comma-separated: eager, compile, reduce-overhead")
    speed.add_argument("--steps", type=int, default=200, help="timed steps per repeat")
    speed.add_argument("--warmup", type=int, default=20, help="untimed steps first (compiles, captures)")
    speed.add_argument("--repeats", type=int, default=3)
    speed.add_argument("--data", default=DEFAULT_DATA)
    speed.add_argument("--seed", type=int, default=1)

    agree = commands.add_parser("agree", help="loss and gradients against an elbo4j fixture")
    common(agree)
    agree.add_argument("--fixture", required=True, help="the directory AgreementFixture wrote")

    quality = commands.add_parser("quality", help="test negative ELBO after each epoch")
    common(quality)
    quality.add_argument("--model", default="784-400-20")
    quality.add_argument("--batch", type=int, default=128)
    quality.add_argument("--epochs", type=int, required=True)
    quality.add_argument("--data", default=DEFAULT_DATA)
    quality.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


ARGS = parse_args()
if ARGS.device == "cpu":
    # OpenBLAS sizes its pool when it loads: set the count before torch loads it.
    os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)
    # PyTorch's OpenMP workers spin after each parallel region and take the cores OpenBLAS's threads need
    # (bench/README.md names the commands that compare the two). Passive is PyTorch at its best with these
    # threads; a value set by the caller is kept.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def keep_freed_memory():
    """glibc's malloc serves blocks of 128 KiB and more with a fresh mmap and returns them at free (raising that
    threshold only as it sees frees), and gives the heap's top back to the kernel beyond 128 KiB: a CPU step's
    activations and gradients (400 KiB at batch 128) then come back as new pages, faulted and zeroed, step after
    step (PyTorch's own CPU allocator keeps no cache). Both are raised, so PyTorch runs at its best; --malloc
    glibc-default skips this, and bench/README.md names the two commands and what they measured. Returns what
    was set, for the report."""
    import ctypes
    m_trim_threshold, m_mmap_threshold = -1, -3
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return "not glibc: malloc as it is"
    mmap_max = 32 * 1024 * 1024  # glibc's largest mmap threshold on 64 bits
    if libc.mallopt(m_mmap_threshold, mmap_max) != 1 or libc.mallopt(m_trim_threshold, 1 << 30) != 1:
        return "glibc refused mallopt: malloc as it is"
    return "glibc mallopt: mmap threshold 32 MiB, trim threshold 1 GiB"


if ARGS.device != "cpu":
    MALLOC = "as it is"
elif ARGS.malloc == "glibc-default":
    MALLOC = "glibc-default: malloc as it is"
else:
    MALLOC = keep_freed_memory()

import torch  # noqa: E402  (after the thread count is in the environment)
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


# ---------------------------------------------------------------------------------------------------------- BLAS

def check_blas(threads, refuse):
    """The BLAS the process runs sgemm on, from the libraries mapped after a matrix product; with `refuse`, exits
    on the reference BLAS. Sets OpenBLAS's thread count through its own call and reads it back."""
    a = torch.rand(64, 64)
    (a @ a).sum().item()
    try:
        with open("/proc/self/maps") as maps:
            mapped = {line.split()[-1] for line in maps if line.rstrip().endswith(".so") or ".so." in line}
    except OSError as error:
        sys.exit(f"cannot read /proc/self/maps to see which BLAS PyTorch uses ({error}): refusing to run")
    blas = sorted(path for path in mapped if "blas" in os.path.basename(path).lower()
                  or "/blas/" in path or "openblas" in path)
    openblas = [path for path in blas if "openblas" in path.lower()]
    if openblas:
        import ctypes
        library = ctypes.CDLL(sorted(openblas, key=lambda p: "libopenblas" not in os.path.basename(p))[0])
        library.openblas_set_num_threads(threads)
        library.openblas_get_config.restype = ctypes.c_char_p
        config = library.openblas_get_config().decode()
        return {"blas": "OpenBLAS", "libraries": blas, "config": config,
                "blas_threads": library.openblas_get_num_threads()}
    if any("mkl" in path.lower() for path in mapped):
        return {"blas": "MKL", "libraries": sorted(p for p in mapped if "mkl" in p.lower()), "blas_threads": threads}
    reference = [path for path in blas if "/blas/" in path or os.path.basename(path).startswith("libblas")]
    if reference and not refuse:
        return {"blas": "reference", "libraries": reference, "blas_threads": 1}
    if reference:
        sys.exit(f"PyTorch runs its matrix products on the reference BLAS ({', '.join(reference)}), several times "
                 "slower than an optimized one: no fair comparison. Install libopenblas0-pthread and point "
                 "libblas.so.3 at it (update-alternatives --config libblas.so.3-x86_64-linux-gnu)")
    # No BLAS library of its own mapped: this PyTorch carries one inside (pip wheels link MKL statically).
    return {"blas": "linked into torch", "libraries": [], "blas_threads": threads}


# ---------------------------------------------------------------------------------------------------------- data

def read_images(directory, prefix="train"):
    """The images of {prefix}-images-idx3-ubyte[.gz] ("train" or "t10k", the test set) as an (N, D) uint8 tensor."""
    for name in (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-images-idx3-ubyte"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            break
    else:
        sys.exit(f"no {prefix}-images-idx3-ubyte[.gz] in {directory}: install dataset-fashion-mnist or give --data")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as stream:
        magic, count, rows, columns = struct.unpack(">IIII", stream.read(16))
        if magic != 0x0803:
            sys.exit(f"{path} is not an IDX file of unsigned-byte images (magic {magic:#x})")
        data = stream.read(count * rows * columns)
    if len(data) != count * rows * columns:
        sys.exit(f"{path} is truncated")
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).view(count, rows * columns)


def epoch_images(directory):
    """An epoch of 60000 images: the training set, or the subset a directory holds repeated in order (the GPU
    bundle carries the first few thousand images), exactly as TrainingProblem.epochImages does."""
    images = read_images(directory)
    if images.shape[0] < EPOCH_IMAGES:
        rows = torch.arange(EPOCH_IMAGES) % images.shape[0]
        images = images[rows]
    return images


# ---------------------------------------------------------------------------------------------------------- model

ACTIVATIONS = {"RELU": F.relu, "TANH": torch.tanh, "LEAKY_RELU": lambda h: F.leaky_relu(h, 0.01), "SILU": F.silu}


class Vae(nn.Module):
    """elbo4j's MLP VAE with a Bernoulli likelihood on logits."""

    def __init__(self, inputs, encoder_hidden, latent, decoder_hidden=None, activation="RELU"):
        super().__init__()
        decoder_hidden = list(reversed(encoder_hidden)) if decoder_hidden is None else decoder_hidden
        self.latent = latent
        self.activation = ACTIVATIONS[activation]
        widths = [inputs] + list(encoder_hidden) + [2 * latent]
        self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        widths = [latent] + list(decoder_hidden) + [inputs]
        self.decoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, x, eps):
        h = x
        for layer in self.encoder[:-1]:
            h = self.activation(layer(h))
        mu_logvar = self.encoder[-1](h)
        mu, logvar = mu_logvar[:, :self.latent], mu_logvar[:, self.latent:]
        h = mu + torch.exp(0.5 * logvar) * eps
        for layer in self.decoder[:-1]:
            h = self.activation(layer(h))
        return self.decoder[-1](h), mu, logvar


def negative_elbo(logits, x, mu, logvar):
    """elbo4j's training loss with beta = 1: the batch mean of -log p(x|z) + KL(q(z|x) || N(0, I))."""
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = 0.5 * (mu * mu + torch.exp(logvar) - 1.0 - logvar).sum()
    return (reconstruction + kl) / x.shape[0]


def parse_model(text):
    sizes = [int(size) for size in text.split("-")]
    if len(sizes) < 2 or min(sizes) < 1:
        sys.exit(f"a model is D-H1-...-L, e.g. 784-400-20, not {text!r}")
    return sizes[0], sizes[1:-1], sizes[-1]


def adam(parameters, device, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """torch.optim.Adam, fused into one kernel on a GPU where this PyTorch has that."""
    if device.type == "cuda":
        try:
            return torch.optim.Adam(parameters, lr=lr, betas=betas, eps=eps, fused=True), "Adam(fused=True)"
        except (TypeError, RuntimeError):
            pass
    return torch.optim.Adam(parameters, lr=lr, betas=betas, eps=eps), "Adam"


def set_precision(precision):
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


# ---------------------------------------------------------------------------------------------------------- speed

def training_step(model, optimizer, data, latent, variant):
    """One step on the rows `index` of `data`: gather and scale, noise, forward, loss, backward, Adam."""
    def loss_of(index):
        x = data[index].float() / 255.0
        eps = torch.randn(x.shape[0], latent, device=x.device)
        logits, mu, logvar = model(x, eps)
        return negative_elbo(logits, x, mu, logvar)

    if variant == "compile":
        loss_of = torch.compile(loss_of)
    elif variant == "reduce-overhead":
        loss_of = torch.compile(loss_of, mode="reduce-overhead")
    elif variant != "eager":
        sys.exit(f"unknown variant {variant!r}: use eager, compile or reduce-overhead")

    # CUDA graphs: each call starts a new generation of the graphs' outputs (the last step's loss is not kept).
    mark_step = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", None)
    if variant != "reduce-overhead":
        mark_step = None

    def step(index):
        if mark_step is not None:
            mark_step()
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(index)
        loss.backward()
        optimizer.step()
        return loss

    return step


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_variant(args, device, images, variant):
    torch.manual_seed(args.seed)
    inputs, hidden, latent = parse_model(args.model)
    model = Vae(inputs, hidden, latent).to(device)
    optimizer, optimizer_name = adam(model.parameters(), device)
    data = images.to(device)
    steps_per_epoch = data.shape[0] // args.batch
    order = torch.randperm(data.shape[0], device=device)
    step = training_step(model, optimizer, data, latent, variant)
    done = 0

    def run(count):
        nonlocal done
        loss = None
        for _ in range(count):
            start = (done % steps_per_epoch) * args.batch
            loss = step(order[start:start + args.batch])
            done += 1
        return loss

    started = time.perf_counter()
    loss = run(args.warmup)
    synchronize(device)
    warmup_seconds = time.perf_counter() - started
    rounds = []
    cpu_started = time.process_time()
    for _ in range(args.repeats):
        started = time.perf_counter()
        loss = run(args.steps)
        synchronize(device)
        rounds.append(args.steps / (time.perf_counter() - started))
    # The process's CPU time (all threads) per step: what other load on a shared machine changes least.
    cpu_ms = (time.process_time() - cpu_started) * 1e3 / (args.steps * args.repeats)
    final_loss = float(loss.detach())
    if not math.isfinite(final_loss):
        sys.exit(f"{variant}: the loss is {final_loss} after {done} steps")
    return {"variant": variant, "steps": args.steps, "repeats": args.repeats, "warmup_steps": args.warmup,
            "warmup_seconds": warmup_seconds, "steps_per_s": sum(rounds) / len(rounds),
            "steps_per_s_rounds": rounds, "cpu_ms_per_step": cpu_ms, "final_loss": final_loss,
            "optimizer": optimizer_name}


def speed(args, device, environment):
    set_precision(args.precision)
    images = epoch_images(args.data)
    results = dict(environment, model=args.model, batch=args.batch, precision=args.precision, variants=[])
    for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
        if variant != "eager" and not hasattr(torch, "compile"):
            row = {"variant": variant, "error": f"torch {torch.__version__} has no torch.compile"}
        else:
            try:
                row = time_variant(args, device, images, variant)
            except Exception as error:  # a compiler failure must not hide the other variants' numbers
                row = {"variant": variant, "error": f"{type(error).__name__}: {error}".splitlines()[0][:500]}
        results["variants"].append(row)
        if "error" in row:
            print(f"pytorch {variant}: FAILED: {row['error']}", flush=True)
        else:
            print(f"pytorch {variant}: {args.model} batch {args.batch} {args.precision} on {device.type}: "
                  f"{row['steps_per_s']:.1f} steps/s (rounds " + ", ".join(f"{r:.1f}" for r in row["steps_per_s_rounds"])
                  + f"; {row['cpu_ms_per_step']:.2f} ms CPU a step, all threads; loss {row['final_loss']:.2f})",
                  flush=True)
    return results


# ---------------------------------------------------------------------------------------------------------- agreement

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "I64": torch.int64, "U8": torch.uint8}


def read_safetensors(path):
    """The tensors and metadata of a safetensors file: with the safetensors package when it is installed, else by
    the format's definition (8-byte little-endian header length, JSON header, raw little-endian data)."""
    try:
        from safetensors import safe_open
        with safe_open(path, framework="pt") as file:
            return {name: file.get_tensor(name) for name in file.keys()}, dict(file.metadata() or {}), "safetensors"
    except ImportError:
        pass
    with open(path, "rb") as stream:
        (length,) = struct.unpack("<Q", stream.read(8))
        header = json.loads(stream.read(length))
        data = stream.read()
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[start:end]), dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return tensors, metadata, "json+struct"


def relative(difference, reference):
    """||difference|| / ||reference|| in double (0 when both are 0)."""
    norm = float(reference.double().norm())
    diff = float(difference.double().norm())
    return diff / norm if norm > 0 else (0.0 if diff == 0 else math.inf)


def agree(args, device):
    checkpoint, checkpoint_metadata, reader = read_safetensors(os.path.join(args.fixture, "initial.safetensors"))
    fixture, metadata, _ = read_safetensors(os.path.join(args.fixture, "steps.safetensors"))
    spec = json.loads(checkpoint_metadata["spec"])
    if spec["likelihood"] != "BERNOULLI" or spec["samples"] != 1 or spec["binarization"] != "NONE":
        sys.exit(f"the fixture's model is {spec['likelihood']}, K = {spec['samples']}, binarization "
                 f"{spec['binarization']}: this peer has the Bernoulli likelihood, K = 1, no binarization")
    precision = "tf32" if spec["precision"] == "TF32" else "fp32"
    set_precision(precision)
    model = Vae(spec["inputs"], spec["encoderHidden"], spec["latent"], spec["decoderHidden"], spec["activation"])
    model.load_state_dict({name: tensor for name, tensor in checkpoint.items()})
    model.to(device)
    settings = json.loads(metadata["adam"])
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["learningRate"],
                                 betas=(settings["beta1"], settings["beta2"]), eps=settings["epsilon"])
    losses = json.loads(metadata["losses"])
    names = [name for name, _ in model.named_parameters()]
    steps = []
    for s, elbo4j_loss in enumerate(losses):
        x = fixture[f"step.{s}.x"].to(device)
        eps = fixture[f"step.{s}.eps"].to(device)
        optimizer.zero_grad(set_to_none=True)
        logits, mu, logvar = model(x, eps)
        loss = negative_elbo(logits, x, mu, logvar)
        loss.backward()
        gradients = {}
        for name, parameter in model.named_parameters():
            expected = fixture[f"step.{s}.grad.{name}"].to(device)
            gradients[name] = relative(parameter.grad - expected, expected)
        worst = max(gradients, key=gradients.get)
        steps.append({"step": s, "loss_elbo4j": elbo4j_loss, "loss_pytorch": float(loss),
                      "loss_relative_difference": abs(float(loss) - elbo4j_loss) / abs(elbo4j_loss),
                      "gradient_relative_l2": gradients, "worst_gradient": worst,
                      "worst_gradient_relative_l2": gradients[worst]})
        optimizer.step()
    final = {}
    for name, parameter in model.named_parameters():
        expected = fixture[f"final.{name}"].to(device)
        final[name] = relative(parameter.detach() - expected, expected)
    worst_final = max(final, key=final.get)
    result = {"fixture": args.fixture, "reader": reader, "model": metadata.get("model"), "batch": x.shape[0],
              "precision": precision, "elbo4j_backend": metadata.get("backend"), "steps": steps,
              "parameter_tensors": names,
              "max_loss_relative_difference": max(step["loss_relative_difference"] for step in steps),
              "max_gradient_relative_l2": max(step["worst_gradient_relative_l2"] for step in steps),
              "worst_gradient": max(steps, key=lambda step: step["worst_gradient_relative_l2"])["worst_gradient"],
              "final_parameters_relative_l2": final, "worst_final_parameters": worst_final,
              "max_final_parameters_relative_l2": final[worst_final]}
    print(f"agreement with elbo4j ({result['model']}, batch {result['batch']}, {precision}, {len(steps)} steps, "
          f"{result['elbo4j_backend']}): loss {result['max_loss_relative_difference']:.2e}, gradients "
          f"{result['max_gradient_relative_l2']:.2e} (relative L2, worst tensor), parameters after the steps "
          f"{result['max_final_parameters_relative_l2']:.2e}", flush=True)
    return result


# ---------------------------------------------------------------------------------------------------------- quality

def quality(args, device):
    torch.manual_seed(args.seed)
    inputs, hidden, latent = parse_model(args.model)
    model = Vae(inputs, hidden, latent).to(device)
    optimizer, _ = adam(model.parameters(), device)
    train = read_images(args.data).to(device)
    test = read_images(args.data, "t10k").to(device)
    step = training_step(model, optimizer, train, latent, "eager")
    epochs = []
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(train.shape[0], device=device)
        started = time.perf_counter()
        cpu_started = time.process_time()
        total, count = 0.0, train.shape[0] // args.batch
        for i in range(count):
            total += float(step(order[i * args.batch:(i + 1) * args.batch]))
        seconds = time.perf_counter() - started
        cpu_ms = (time.process_time() - cpu_started) * 1e3 / count
        with torch.no_grad():
            test_loss = 0.0
            for i in range(0, test.shape[0], 1000):
                x = test[i:i + 1000].float() / 255.0
                logits, mu, logvar = model(x, torch.randn(x.shape[0], latent, device=device))
                test_loss += float(negative_elbo(logits, x, mu, logvar)) * x.shape[0]
        row = {"epoch": epoch, "train_loss": total / count, "test_negative_elbo": test_loss / test.shape[0],
               "seconds": seconds, "steps_per_s": count / seconds, "cpu_ms_per_step": cpu_ms}
        epochs.append(row)
        print(f"epoch {epoch}: train loss {row['train_loss']:.2f}, test negative ELBO {row['test_negative_elbo']:.2f} "
              f"nats, {seconds:.1f} s ({row['steps_per_s']:.1f} steps/s, {cpu_ms:.2f} ms CPU a step)", flush=True)
    return {"model": args.model, "batch": args.batch, "epochs": epochs}


# ---------------------------------------------------------------------------------------------------------- main

def main():
    args = ARGS
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit(f"--device cuda, but torch {torch.__version__} sees no GPU")
    device = torch.device(args.device)
    environment = {"torch": torch.__version__, "device": args.device, "python": sys.version.split()[0]}
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
        # Speed on the reference BLAS would be no comparison; agreement does not depend on the BLAS.
        environment.update(check_blas(args.threads, refuse=args.command != "agree"), threads=torch.get_num_threads(),
                           omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"), malloc=MALLOC)
    else:
        environment.update(gpu=torch.cuda.get_device_name(), cuda=torch.version.cuda)
    if args.command == "speed":
        results = speed(args, device, environment)
    elif args.command == "agree":
        results = dict(environment, **agree(args, device))
    else:
        results = dict(environment, **quality(args, device))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
