#!/usr/bin/python3
"""The PyTorch VAE example (pytorch/examples vae/main.py) on Fashion-MNIST, on the CPU: the peer of elbo4j's CPU
training for quality (test negative ELBO after each epoch) and speed (training steps per second).

The model and loss are the example's: 784-400-20-400-784, ReLU, sigmoid output with binary cross-entropy summed
over the pixels of the batch (the un-binarized pixels as targets), plus the KL; Adam with lr 1e-3; batch 128,
shuffled each epoch, the last partial batch kept (as DataLoader does). The test loss is the example's: the summed
loss over the test set (one latent sample per image) divided by its size, i.e. the test negative ELBO in nats.

Run it with Debian's python3-torch (/usr/bin/python3), whose BLAS is libblas.so.3: it must be OpenBLAS
(libopenblas0-pthread), not the reference BLAS, for a fair comparison; the script refuses otherwise.

usage: vae_train_cpu.py [--data DIR] [--epochs N] [--steps N] [--threads T] [--seed S] [--json FILE]
  --epochs N  train N epochs, printing the test negative ELBO after each (quality)
  --steps N   instead, time N training steps after 20 warm-up steps and print steps/s (speed)
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def check_blas():
    """Refuses to run on the reference BLAS: Debian's libblas.so.3 must point at OpenBLAS."""
    target = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    if "openblas" not in target:
        sys.exit(f"libblas.so.3 is {target}, not OpenBLAS: install libopenblas0-pthread "
                 f"(update-alternatives --config libblas.so.3-x86_64-linux-gnu) for a fair comparison")
    return target


def read_images(path):
    with gzip.open(path, "rb") as stream:
        magic, count, rows, columns = struct.unpack(">IIII", stream.read(16))
        if magic != 2051:
            sys.exit(f"{path} is not an IDX image file (magic {magic})")
        data = stream.read(count * rows * columns)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).view(count, rows * columns).float() / 255.0


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def loss_function(recon, x, mu, logvar):
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--epochs", type=int, default=0)
    parser.add_argument("--steps", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if (args.epochs > 0) == (args.steps > 0):
        sys.exit("give exactly one of --epochs N (quality) or --steps N (speed)")
    blas = check_blas()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = read_images(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    test = read_images(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    results = {"torch": torch.__version__, "blas": blas, "threads": args.threads, "batch": args.batch}

    def step(batch):
        optimizer.zero_grad()
        recon, mu, logvar = model(batch)
        loss = loss_function(recon, batch, mu, logvar)
        loss.backward()
        optimizer.step()
        return loss

    if args.steps > 0:
        order = torch.randperm(len(train))
        batches = [train[order[i:i + args.batch]] for i in range(0, args.steps * args.batch + 20 * args.batch,
                                                                    args.batch) if i + args.batch <= len(train)]
        model.train()
        for i in range(20):
            step(batches[i % len(batches)])
        started = time.perf_counter()
        cpu_started = time.process_time()
        for i in range(args.steps):
            step(batches[(20 + i) % len(batches)])
        seconds = time.perf_counter() - started
        cpu_ms = (time.process_time() - cpu_started) * 1000 / args.steps
        results.update(steps=args.steps, seconds=seconds, steps_per_s=args.steps / seconds, cpu_ms_per_step=cpu_ms)
        print(f"pytorch {torch.__version__} cpu, {args.threads} threads, batch {args.batch}: "
              f"{args.steps} steps in {seconds:.2f} s = {args.steps / seconds:.1f} steps/s, "
              f"{cpu_ms:.2f} ms CPU a step (all threads)")
    else:
        epochs = []
        for epoch in range(1, args.epochs + 1):
            model.train()
            order = torch.randperm(len(train))
            started = time.perf_counter()
            total = 0.0
            for i in range(0, len(train), args.batch):
                total += step(train[order[i:i + args.batch]]).item()
            seconds = time.perf_counter() - started
            model.eval()
            with torch.no_grad():
                test_loss = 0.0
                for i in range(0, len(test), args.batch):
                    batch = test[i:i + args.batch]
                    recon, mu, logvar = model(batch)
                    test_loss += loss_function(recon, batch, mu, logvar).item()
            row = {"epoch": epoch, "train_loss": total / len(train), "test_neg_elbo": test_loss / len(test),
                   "seconds": seconds, "steps_per_s": (len(train) + args.batch - 1) // args.batch / seconds}
            epochs.append(row)
            print(f"epoch {epoch}: train loss {row['train_loss']:.2f}, test negative ELBO "
                  f"{row['test_neg_elbo']:.2f} nats, {seconds:.1f} s ({row['steps_per_s']:.1f} steps/s)")
        results["epochs"] = epochs
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
