#!/bin/sh
# Writes the man pages hesse.1 and hesse-COMMAND.1 (one per command `hesse --help` lists) into
# OUTDIR from the tool's own --help text, so that each page says what --help says.
#   sh cmake/man.sh HESSE_BINARY OUTDIR
set -eu
hesse=$1
out=$2
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1
tmp=$(mktemp "${TMPDIR:-/tmp}/hesse-man.XXXXXX")
trap 'rm -f "$tmp"' EXIT

# roff escapes shared by both kinds of page: backslashes, hyphens (so options copy as ASCII),
# and a leading . or ' that roff would take as a request.
esc='function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); sub(/^[.'"'"']/, "\\\\\\&&", s); return s }'

"$hesse" --help >"$tmp"
version=$(sed -n '1s/^hesse \([^:]*\):.*/\1/p' "$tmp")
awk -v version="$version" "$esc"'
NR == 1 { sub(/^hesse [^:]*: /, ""); summary = $0; next }
/^Commands:/ { mode = "commands"; next }
/^Usage: / { sub(/^Usage: hesse /, ""); usage = $0; next }
mode == "commands" && /^  [a-z]/ { n++; name[n] = $1; sub(/^  [a-z]+ +/, ""); what[n] = $0; next }
mode == "commands" && /^$/ { mode = "after"; next }
mode == "after" && NF { after = after esc($0) "\n" }
END {
    print ".TH HESSE 1 \"\" \"hesse " version "\" \"hesse manual\""
    print ".nh\n.ad l"
    print ".SH NAME\nhesse \\- " esc(summary)
    print ".SH SYNOPSIS\n.B hesse\n" esc(usage)
    print ".SH COMMANDS"
    for (i = 1; i <= n; i++) print ".TP\n.BR hesse\\-" name[i] " (1)\n" esc(what[i])
    print ".SH EXIT STATUS\n" after ".SH SEE ALSO"
    for (i = 1; i <= n; i++) printf ".BR hesse\\-%s (1)%s\n", name[i], i < n ? "," : ""
}' "$tmp" >"$out/hesse.1"

# shellcheck disable=SC2013 # command names are single words
for cmd in $(awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }' "$tmp"); do
    "$hesse" "$cmd" --help >"$tmp"
    awk -v cmd="$cmd" -v version="$version" "$esc"'
    NR == 1 { sub(/^hesse [^:]*: /, ""); summary = $0; next }
    /^Usage: / && !usage { sub(/^Usage: hesse [^ ]+ ?/, ""); usage = $0; next }
    /^Options:/ { mode = "options"; next }
    mode == "options" && /^  / {
        # "  -o, --output FILE           help" or "      --name META   help"
        line = substr($0, 3)
        match(line, /^(-[^ ], |    )--[^ ]+/)
        left = substr(line, 1, RLENGTH); rest = substr(line, RLENGTH + 1)
        if (rest ~ /^ [^ ]/) { match(rest, /^ [^ ]+/); left = left substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1) }
        sub(/^ +/, "", left); sub(/^ +/, "", rest)
        opts = opts ".TP\n.B " esc(left) "\n" esc(rest) "\n"; next
    }
    mode == "options" && /^$/ { mode = "details"; next }
    mode == "details" { details = details (NF ? esc($0) : ".PP") "\n" }
    END {
        print ".TH HESSE\\-" toupper(cmd) " 1 \"\" \"hesse " version "\" \"hesse manual\""
        print ".nh\n.ad l"
        print ".SH NAME\nhesse\\-" cmd " \\- " esc(summary)
        print ".SH SYNOPSIS\n.B hesse " cmd "\n" esc(usage)
        print ".SH OPTIONS\n" opts
        if (details != "") print ".SH DESCRIPTION\n" details
        print ".SH SEE ALSO\n.BR hesse (1)"
    }' "$tmp" >"$out/hesse-$cmd.1"
done
