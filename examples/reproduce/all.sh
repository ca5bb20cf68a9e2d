#!/bin/sh
# Every reproduction, then one report (results/reproduce/report.html).
. "$(dirname "$0")/common.sh"
d=$(dirname "$0")
sh "$d/powerlaw.sh"
sh "$d/classes.sh"
sh "$d/terminal.sh"
sh "$d/samples.sh"
sh "$d/kronecker.sh"
"$hesse" report --title "hesse: the four papers on LeNet-5 / Fashion-MNIST" -o "$out/report.html" \
    "$out"/lenet5-seed1-train.json "$out"/powerlaw-*.json "$out/classes.json" "$out/classes-tpt.json" \
    "$out/samples.json" "$out/kronecker.json"
