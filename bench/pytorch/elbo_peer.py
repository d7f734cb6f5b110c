#!/usr/bin/env python3
"""The ELBO pieces of elbo4j's benchmarks, in PyTorch, on the same GPU, at the same shapes.

Each operation is timed the way the JMH benchmarks time elbo4j (bench/java/dev/elbo4j/bench): CUDA events
around a batch of back-to-back calls, the inputs cycled through enough copies that their footprint exceeds
the L2 cache (--rotate-mib), so every call reads from device memory. The JSON it writes (--out) is read by
dev.elbo4j.bench.Report (--pytorch FILE), which matches each result to elbo4j's fused kernel by operation
name and parameters.

Operations (D = 784, L = 32, float32; B from --batches):
  DeviceCopy     dst.copy_(src) of a large buffer: the bandwidth reference, as cuMemcpyDtoD in JMH.
  LatentForward  mu and logvar read from the encoder's (B x 2L) output; z = mu + exp(logvar/2) * eps with
                 eps drawn in the timed region (elbo4j draws it in the kernel); per-row KL.
  LatentBackward autograd from dz (B x L) and the KL's weight back to the encoder output (B x 2L).
  BernoulliLoss  per-row log p = -BCE-with-logits summed over D, and the gradient of the batch-mean loss
                 with respect to the logits (autograd), x as float32.
  GaussianLoss   per-row Gaussian log p and the gradients (autograd) of the mean and, where learned, of the
                 log-variance: fixed scalar, per-dimension vector (D) or per-row matrix (B x D).
  ElboReduction  per-row ELBO, the batch loss and the mean ELBO from per-row log p and KL.
  IwaeBound      logsumexp over K of the log weights minus log K, K = 1 and 64.
Variants: "eager" (what a PyTorch user writes: autograd) and, with --compile, "compiled" (torch.compile of
the closed-form forward and gradient, PyTorch's best fused code for the same math).

usage: elbo_peer.py --out FILE [--smoke] [--compile] [--batches 128,4096] [--rotate-mib 256]
"""
import argparse
import json
import math
import statistics

import torch
import torch.nn.functional as F

DIM = 784
LATENT = 32
LOG_2PI = math.log(2 * math.pi)
CALLS_PER_BATCH = 32  # back-to-back calls between the two CUDA events, as in the JMH benchmarks


def rotation(bytes_per_instance, rotate_mib):
    """How many independent copies of the inputs make a footprint of at least rotate_mib MiB (at least 1)."""
    return max(1, math.ceil(rotate_mib * 2**20 / bytes_per_instance))


def time_gpu(call, instances, repetitions, warmup):
    """Median and minimum GPU microseconds per call, CUDA events around CALLS_PER_BATCH calls."""
    for i in range(warmup * CALLS_PER_BATCH):
        call(instances[i % len(instances)])
    start = torch.cuda.Event(enable_timing=True)
    stop = torch.cuda.Event(enable_timing=True)
    per_call = []
    next_instance = 0
    for _ in range(repetitions):
        start.record()
        for _ in range(CALLS_PER_BATCH):
            call(instances[next_instance])
            next_instance = (next_instance + 1) % len(instances)
        stop.record()
        stop.synchronize()
        per_call.append(start.elapsed_time(stop) * 1e3 / CALLS_PER_BATCH)
    return statistics.median(per_call), min(per_call)


def latent_forward(instance):
    encoded, = instance
    mu, logvar = encoded[:, :LATENT], encoded[:, LATENT:]
    eps = torch.randn(mu.shape, device=mu.device)
    z = mu + torch.exp(0.5 * logvar) * eps
    kl = 0.5 * (mu * mu + torch.exp(logvar) - 1.0 - logvar).sum(dim=1)
    return z, kl


def bernoulli_eager(instance):
    logits, x = instance
    log_p = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)
    loss = -log_p.sum() / logits.shape[0]
    gradient, = torch.autograd.grad(loss, logits)
    return log_p.detach(), gradient


def bernoulli_closed_form(logits, x):
    # log p = x*l - softplus(l); d(-mean log p)/dl = (sigmoid(l) - x) / B
    log_p = (x * logits - F.softplus(logits)).sum(dim=1)
    gradient = (torch.sigmoid(logits) - x) / logits.shape[0]
    return log_p, gradient


def gaussian_eager(instance):
    mean, x, log_variance = instance
    learned = torch.is_tensor(log_variance)
    precision = torch.exp(-log_variance) if learned else math.exp(-log_variance)
    log_p = -0.5 * (LOG_2PI + log_variance + (x - mean) ** 2 * precision).sum(dim=1)
    loss = -log_p.sum() / mean.shape[0]
    gradients = torch.autograd.grad(loss, (mean, log_variance) if learned else (mean,))
    return log_p.detach(), gradients


def elbo_reduction(instance, beta=1.0):
    log_p, kl = instance
    elbo = log_p - kl
    totals = torch.stack((-(log_p - beta * kl).mean(), elbo.mean()))
    return elbo, totals


def iwae_bound(instance):
    log_px, log_ratio = instance
    return torch.logsumexp(log_px + log_ratio, dim=0) - math.log(log_px.shape[0])


def copies(stacked, learned=False):
    """The copies of one input: views of a (count, ...) tensor, one allocation however many copies there are.

    With learned=True each view is a leaf that autograd differentiates with respect to."""
    views = stacked.unbind(0)
    return [view.detach().requires_grad_(True) for view in views] if learned else list(views)


def measure(args):
    device = torch.device("cuda")
    generator = torch.Generator(device=device).manual_seed(args.seed)
    results = []

    def record(operation, variant, params, bytes_per_call, call, instances):
        median_us, min_us = time_gpu(call, instances, args.repetitions, args.warmup)
        results.append({
            "operation": operation, "variant": variant, "params": params,
            "gpu_us_per_call": median_us, "gpu_us_per_call_min": min_us, "bytes_per_call": bytes_per_call,
            "instances": len(instances),
        })
        print(f"{operation:15s} {variant:9s} {json.dumps(params):45s} {median_us:10.2f} us/call "
              f"{bytes_per_call / (median_us * 1e3):8.1f} GB/s", flush=True)

    def uniform(*shape, low=0.0, high=1.0):
        return torch.rand(*shape, device=device, generator=generator) * (high - low) + low

    # The copy: one source and one destination of copy_bytes each (bytes moved = read + write).
    copy_floats = args.copy_bytes // 4
    source, destination = uniform(copy_floats), torch.empty(copy_floats, device=device)
    record("DeviceCopy", "eager", {"bytes": args.copy_bytes}, 2 * args.copy_bytes,
           lambda pair: pair[1].copy_(pair[0]), [(source, destination)])
    del source, destination

    compiled_bernoulli = torch.compile(bernoulli_closed_form, dynamic=False) if args.compile else None

    for batch in args.batches:
        params = {"batch": batch}

        # Encoder outputs as in LatentForwardBench: mu in [-2, 2], logvar in [-4, 1].
        encoded_bytes = batch * 2 * LATENT * 4
        count = rotation(encoded_bytes + batch * LATENT * 4 + batch * 4, args.rotate_mib)
        encoded = torch.cat((uniform(count, batch, LATENT, low=-2, high=2),
                             uniform(count, batch, LATENT, low=-4, high=1)), dim=2)
        # [mu | logvar] in, z and KL out (the noise is generated, not moved).
        record("LatentForward", "eager", params, encoded_bytes + batch * LATENT * 4 + batch * 4,
               lambda e: latent_forward((e,)), copies(encoded))

        # The graph from the encoder output to z and KL is built once per copy; each call runs its backward.
        row_weights = torch.full((batch,), 1.0 / batch, device=device)
        gradients = copies(uniform(count, batch, LATENT, low=-1.0 / batch, high=1.0 / batch))
        graphs = []
        for leaf, dz in zip(copies(encoded, learned=True), gradients):
            z, kl = latent_forward((leaf,))
            graphs.append((leaf, z, kl, dz))
        # [mu | logvar] and dz in, d[mu | logvar] out (the noise is regenerated, not moved).
        record("LatentBackward", "eager", params, 2 * encoded_bytes + batch * LATENT * 4,
               lambda g: torch.autograd.grad((g[1], g[2]), (g[0],), (g[3], row_weights), retain_graph=True),
               graphs)
        del encoded, gradients, graphs

        bernoulli_bytes = 3 * batch * DIM * 4 + batch * 4  # logits, x in; gradient, per-row log p out
        count = rotation(bernoulli_bytes, args.rotate_mib)
        logits = uniform(count, batch, DIM, low=-10, high=10)
        x = uniform(count, batch, DIM)
        record("BernoulliLoss", "eager", {**params, "x": "float32"}, bernoulli_bytes, bernoulli_eager,
               list(zip(copies(logits, learned=True), copies(x))))
        if compiled_bernoulli is not None:
            record("BernoulliLoss", "compiled", {**params, "x": "float32"}, bernoulli_bytes,
                   lambda pair: compiled_bernoulli(*pair), list(zip(copies(logits), copies(x))))
        del logits, x

        for mode in ("fixed", "perDimension", "perRow"):
            log_variance_shape = {"fixed": (), "perDimension": (DIM,), "perRow": (batch, DIM)}[mode]
            log_variance_floats = math.prod(log_variance_shape) if log_variance_shape else 0
            # mean and x in, log p and the mean gradient out, the log-variance in and its gradient out
            gaussian_bytes = (3 * batch * DIM + batch + 2 * log_variance_floats) * 4
            count = rotation(gaussian_bytes, args.rotate_mib)
            means = copies(uniform(count, batch, DIM), learned=True)
            xs = copies(uniform(count, batch, DIM))
            if mode == "fixed":
                log_variances = [-2.0] * count
            else:
                log_variances = copies(uniform(count, *log_variance_shape, low=-4, high=0), learned=True)
            record("GaussianLoss", "eager", {**params, "logVariance": mode}, gaussian_bytes, gaussian_eager,
                   list(zip(means, xs, log_variances)))
            del means, xs, log_variances

        reduction_bytes = (3 * batch + 2) * 4  # log p and KL in; per-row ELBO and the two totals out
        count = rotation(reduction_bytes, args.rotate_mib)
        log_p = copies(uniform(count, batch, low=-300, high=-50))
        kl = copies(uniform(count, batch, low=5, high=40))
        record("ElboReduction", "eager", params, reduction_bytes, elbo_reduction, list(zip(log_p, kl)))
        del log_p, kl

        for samples in (1, 64):
            iwae_bytes = (2 * samples * batch + batch) * 4  # log p(x|z) and log p(z) - log q(z|x) in; bounds out
            count = rotation(iwae_bytes, args.rotate_mib)
            record("IwaeBound", "eager", {**params, "samples": samples}, iwae_bytes, iwae_bound,
                   list(zip(copies(uniform(count, samples, batch, low=-300, high=-50)),
                            copies(uniform(count, samples, batch, low=-20, high=20)))))

    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--smoke", action="store_true", help="B = 128 only, few repetitions, no L2 rotation")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd closed forms")
    parser.add_argument("--batches", default="128,4096", help="comma-separated batch sizes")
    parser.add_argument("--rotate-mib", type=int, default=256,
                        help="minimum footprint of the cycled input copies (MiB), above the L2 cache size")
    parser.add_argument("--copy-bytes", type=int, default=256 * 2**20, help="size of the copied buffer")
    parser.add_argument("--repetitions", type=int, default=50, help="timed batches of calls per operation")
    parser.add_argument("--warmup", type=int, default=5, help="untimed batches of calls per operation")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    if args.smoke:
        args.batches, args.rotate_mib, args.repetitions, args.warmup = [128], 0, 5, 1
    if not torch.cuda.is_available():
        raise SystemExit("elbo_peer.py: torch.cuda.is_available() is False: no GPU to measure")

    torch.backends.cuda.matmul.allow_tf32 = False
    results = measure(args)
    document = {
        "tool": "pytorch",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0),
        "calls_per_batch": CALLS_PER_BATCH,
        "repetitions": args.repetitions,
        "rotate_mib": args.rotate_mib,
        "results": results,
    }
    with open(args.out, "w") as out:
        json.dump(document, out, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
