#!/usr/bin/python3
"""The unigram baseline of next-byte prediction on a text file, to compare with a trained
gpt-tiny's test loss (issue 18: the trained model must beat it visibly).

The file is split by position as `hesse --data text:FILE` splits it: the first 90 % train, the
last 10 % test. The baseline predicts every byte by the training bytes' frequencies, with
add-one smoothing over the 256 byte values (so that a byte unseen in training has a finite
loss):  p(b) = (count_train(b) + 1) / (n_train + 256).  It prints, as JSON, the mean
cross-entropy in nats of the test bytes under p (the loss a model that ignores the context can
reach), the same on the training bytes, and ln 256 (a uniform guess).

    /usr/bin/python3 examples/reproduce/unigram_baseline.py FILE [--test-fraction 0.1]
"""
import argparse
import json
import math
import sys


def baseline(data, test_fraction):
    split = len(data) - int(len(data) * test_fraction)
    train, test = data[:split], data[split:]
    if not train or not test:
        raise ValueError("the file is too short to split (%d bytes)" % len(data))
    counts = [0] * 256
    for b in train:
        counts[b] += 1
    logp = [math.log((c + 1) / (len(train) + 256)) for c in counts]
    return {"train_bytes": len(train), "test_bytes": len(test),
            "unigram_train_loss": -sum(logp[b] for b in train) / len(train),
            "unigram_test_loss": -sum(logp[b] for b in test) / len(test),
            "uniform_loss": math.log(256)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--test-fraction", type=float, default=0.1)
    a = ap.parse_args(argv)
    try:
        with open(a.file, "rb") as f:
            result = baseline(f.read(), a.test_fraction)
    except (OSError, ValueError) as e:
        print("unigram_baseline: %s: %s" % (a.file, e), file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
