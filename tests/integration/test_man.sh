#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The man pages (docs/man) against what they describe, because nothing
# else reads them and they drift silently.  Checked on the rendered pages,
# as a reader sees them:
#   - each renders with no groff warning (-ww);
#   - lunar.8 has every command, option and choice `lunar --help` (and
#     `lunar new --help`, `lunar xen`) prints, and every metric a running
#     daemon serves;
#   - lunarctl.8 has every command `lunarctl --help` lists and every one the
#     daemon itself knows (its "try: ..." list), and every option;
#   - lunar.yaml.5 has an entry for every key of docs/config.md and of the
#     parser (core/config.c: top-level, LUN, sim/tcmu/xen/metrics sections,
#     filters and their keys), and its every-key example passes `lunar check`
#     and uses every key;
#   - lunar-lua.3 has a heading for every ### heading of docs/handlers.md
#     (the op signatures) and every name of its `lun`, `cmd` and `lunar`
#     tables;
#   - each page's .TH version is the one `lunar version` prints;
#   - `cmake --install` puts every page of docs/man in man<section>, where
#     man finds it by name.
# Every miss is listed, then the test fails.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

requires groff --version
requires cmake --version

MAN=$LUNAR_SOURCE_DIR/docs/man
PAGES=(lunar.8 lunarctl.8 lunar.yaml.5 lunar-lua.3)
missing=()

miss()
{
	missing+=("$*")
}

# ---- every page renders cleanly -------------------------------------------------

version=$("$LUNAR" version | awk '{ print $2 }')
[ -n "$version" ] || fail "lunar version printed no version"
for p in "${PAGES[@]}"; do
	[ -f "$MAN/$p" ] || fail "no $MAN/$p"
	# what man shows (hyphenation on): no warning of any kind
	if ! groff -man -Tutf8 -ww -z "$MAN/$p" 2>"$TESTDIR/$p.warn" || [ -s "$TESTDIR/$p.warn" ]; then
		miss "$p: groff warns: $(cat "$TESTDIR/$p.warn")"
	fi
	grep -q "^\.TH .* \"lunar $version\"" "$MAN/$p" || miss "$p: .TH does not say lunar $version"
	# the text as read, without hyphenation (so names are not cut) and with
	# typographic dashes and quotes back to ASCII; $p.flat has all
	# whitespace runs as one space (a phrase may wrap)
	groff -man -Tutf8 -rHY=0 -P-cbou "$MAN/$p" 2>/dev/null |
		sed -e 's/\xe2\x80\x90/-/g; s/\xe2\x88\x92/-/g; s/\xe2\x80\x99/'"'"'/g' \
		    -e 's/\xe2\x80\x98/'"'"'/g; s/\xe2\x80\x9c/"/g; s/\xe2\x80\x9d/"/g' >"$TESTDIR/$p.txt"
	tr -s '[:space:]' ' ' <"$TESTDIR/$p.txt" >"$TESTDIR/$p.flat"
	# and with lines too long to wrap: a line that starts with a name is
	# then an entry (a .TP tag) or a heading, never the middle of a paragraph
	groff -man -Tutf8 -rHY=0 -rLL=10000n -P-cbou "$MAN/$p" 2>/dev/null >"$TESTDIR/$p.wide"
	[ -s "$TESTDIR/$p.txt" ] || miss "$p: renders to nothing"
done

# has PAGE TEXT: the page says TEXT (a wrapped line is still one phrase)
has()
{
	grep -qF -- "$(tr -s '[:space:]' ' ' <<<"$2" | sed 's/ $//')" "$TESTDIR/$1.flat"
}

# has_word PAGE WORD: WORD, not as part of a longer name
has_word()
{
	grep -qE -- "(^|[^A-Za-z0-9_.-])$2([^A-Za-z0-9_-]|$)" "$TESTDIR/$1.flat"
}

# has_entry PAGE WORDS: an entry (a .TP tag) starts with WORDS
has_entry()
{
	grep -qE -- "^ +$2([ ,(]|$)" "$TESTDIR/$1.wide"
}

# has_heading PAGE TEXT: a subsection heading (.SS) holds TEXT
has_heading()
{
	grep -E '^   [^ ]' "$TESTDIR/$1.wide" | grep -qF -- "$2"
}

# ---- lunar.8: `lunar --help` ----------------------------------------------------

# commands: the lowercase words after "lunar" on each usage line
# ("xen attach|detach" is two); options (--x); choices (a|b|c)
help=$("$LUNAR" --help)
help_new=$("$LUNAR" new --help)
help_xen=$("$LUNAR" xen 2>&1 || true)
[[ "$help_xen" == *usage:* ]] || help_xen=""    # a build without Xen
n=0
while read -r line; do
	line=${line#usage: }
	[[ "$line" == lunar\ * ]] || continue
	read -r -a w <<<"${line#lunar }"
	words=()
	for t in "${w[@]}"; do
		[[ "$t" =~ ^[a-z|]+$ ]] || break
		words+=("$t")
	done
	[ ${#words[@]} -gt 0 ] || continue
	IFS='|' read -r -a firsts <<<"${words[0]}"
	IFS='|' read -r -a seconds <<<"${words[1]:-}"
	for a in "${firsts[@]}"; do
		for b in "${seconds[@]:-}"; do
			cmd="$a${b:+ $b}"
			n=$((n + 1))
			has_entry lunar.8 "$cmd" || miss "lunar.8: no entry for the command 'lunar $cmd' (lunar --help)"
		done
	done
done <<<"$help"$'\n'"$help_new"$'\n'"$help_xen"
[ "$n" -ge 7 ] || fail "found only $n commands in lunar --help: its format changed?"
for o in $(grep -oE -- '--[a-z][a-z-]*' <<<"$help"$'\n'"$help_new"$'\n'"$help_xen" | sort -u); do
	has_word lunar.8 "$o" || miss "lunar.8: no option $o (lunar --help)"
done
for c in $(grep -oE '[a-z]+(\|[a-z]+)+' <<<"$help"$'\n'"$help_new" | tr '|' '\n' | sort -u); do
	has_word lunar.8 "$c" || miss "lunar.8: no '$c' (a choice in lunar --help)"
done

# ---- lunarctl.8: `lunarctl --help` and the daemon's own list --------------------

ctl_help=$("$LUNARCTL" --help)
ctl_cmds=$(sed -nE 's/^  ([a-z]+)( .*)?$/\1/p' <<<"$ctl_help")
[ "$(wc -w <<<"$ctl_cmds")" -ge 3 ] || fail "found no commands in lunarctl --help: its format changed?"
for c in $ctl_cmds; do
	has_entry lunarctl.8 "$c" || miss "lunarctl.8: no entry for '$c' (lunarctl --help)"
done
for o in $(grep -oE -- '--[a-z][a-z-]*' <<<"$ctl_help" | sort -u); do
	has_word lunarctl.8 "$o" || miss "lunarctl.8: no option $o (lunarctl --help)"
done

# a daemon: the commands it knows, and the metrics it serves
cp "$LUNAR_SOURCE_DIR/examples/hello.lua" "$TESTDIR/hello.lua"
cat >"$TESTDIR/lunar.yaml" <<'YAML'
metrics:
  listen: 127.0.0.1:0
luns:
  - name: man0
    transport: sim
    handler: hello.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"
if lunarctl no-such-command >"$TESTDIR/unknown" 2>&1; then
	fail "lunarctl no-such-command succeeded"
fi
known=$(sed -nE 's/.*\(try: ([a-z, ]+)\).*/\1/p' "$TESTDIR/unknown" | tr -d ',')
[ "$(wc -w <<<"$known")" -ge 3 ] ||
	fail "the daemon's answer to an unknown command lists no commands: $(cat "$TESTDIR/unknown")"
for c in $known; do
	has_entry lunarctl.8 "$c" || miss "lunarctl.8: no entry for '$c' (a command the daemon knows)"
	[[ " $(tr '\n' ' ' <<<"$ctl_cmds") " == *" $c "* ]] ||
		echo "note: lunarctl --help does not list '$c', which the daemon knows"
done

wait_for_log "metrics: http://"
addr=$(sed -nE 's|.*metrics: http://([0-9.]+):([0-9]+)/metrics.*|\1 \2|p' "$LUNAR_LOG" | head -1)
read -r host port <<<"$addr"
[ -n "${port:-}" ] || fail "no metrics address in the log"
exec 3<>"/dev/tcp/$host/$port"
printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
timeout 10 cat <&3 >"$TESTDIR/metrics" || true
exec 3<&-
metrics=$(sed -nE 's/^# TYPE ([a-z_]+) .*/\1/p' "$TESTDIR/metrics")
[ "$(wc -w <<<"$metrics")" -ge 5 ] || fail "no metrics served: $(head -c 300 "$TESTDIR/metrics")"
for m in $metrics; do
	has_entry lunar.8 "$m" || miss "lunar.8: no entry for the metric $m"
done
stop_lunar

# ---- lunar.yaml.5: docs/config.md and the parser ---------------------------------

config_md=$LUNAR_SOURCE_DIR/docs/config.md
# the keys of its tables (first column) and the top-level keys of its example
doc_keys=$(sed -nE 's/^\| `([a-z_]+)` \|.*/\1/p' "$config_md")
example=$(awk '/^```yaml/ { n++; next } /^```/ { if (n == 1) exit } n == 1' "$config_md")
top_keys=$(sed -nE 's/^([a-z_]+):.*/\1/p' <<<"$example")
other_keys=$(sed -nE 's/^ +(- )?([a-z_]+):.*/\2/p' <<<"$example")
if [ "$(wc -w <<<"$doc_keys")" -lt 10 ] || [ "$(wc -w <<<"$top_keys")" -lt 2 ]; then
	fail "found no keys in docs/config.md: its format changed?"
fi
for k in $doc_keys $top_keys; do
	has_entry lunar.yaml.5 "$k" || miss "lunar.yaml.5: no entry for '$k' (docs/config.md)"
done
for k in $other_keys; do
	has_word lunar.yaml.5 "$k" || miss "lunar.yaml.5: no '$k' (docs/config.md's example)"
done

# the parser's lists: every `static const char *const ...keys[] = { ... }`
# of core/config.c, the filter names and the filters' keys
config_c=$LUNAR_SOURCE_DIR/core/config.c
parser_keys=$(awk '/static const char \*const [a-z_]*keys\[\] = \{/ { on = 1 }
	on { print } on && /NULL \};/ { on = 0 }' "$config_c" | grep -oE '"[a-z_]+"' | tr -d '"' | sort -u)
filters=$(awk '/static const char \*const filter_names\[\]/, /NULL \};/' "$config_c" |
	grep -oE '"[a-z_]+"' | tr -d '"')
filter_keys=$(grep -oE '\{ "[a-z_]+", FA_' "$config_c" | grep -oE '"[a-z_]+"' | tr -d '"' | sort -u)
if [ "$(wc -w <<<"$parser_keys")" -lt 20 ] || [ "$(wc -w <<<"$filters")" -lt 3 ] ||
	[ "$(wc -w <<<"$filter_keys")" -lt 5 ]; then
	fail "could not read the key lists of core/config.c: its format changed?"
fi
for k in $parser_keys $filters $filter_keys; do
	has_entry lunar.yaml.5 "$k" || miss "lunar.yaml.5: no entry for '$k' (core/config.c)"
done

# the page's every-key example: valid, and with every key of the parser
awk '/^EXAMPLES/ { on = 1 } on && /^ +Every key/ { ex = 1; next } ex && /^[^ ]/ { exit } ex' \
	"$TESTDIR/lunar.yaml.5.txt" | sed 's/^       //' >"$TESTDIR/every.yaml"
[ -s "$TESTDIR/every.yaml" ] || miss "lunar.yaml.5: no example after 'Every key' in EXAMPLES"
for h in $(sed -nE 's/^ +handler: ([A-Za-z0-9_.-]+).*/\1/p' "$TESTDIR/every.yaml"); do
	: >"$TESTDIR/$h"
done
"$LUNAR" check "$TESTDIR/every.yaml" >"$TESTDIR/check.out" 2>&1 ||
	miss "lunar.yaml.5: its every-key example does not pass lunar check: $(cat "$TESTDIR/check.out")"
for k in $parser_keys; do
	grep -qE "^ *(- )?$k:" "$TESTDIR/every.yaml" || miss "lunar.yaml.5: the every-key example has no '$k:'"
done

# ---- lunar-lua.3: docs/handlers.md -----------------------------------------------

handlers_md=$LUNAR_SOURCE_DIR/docs/handlers.md
n=0
while IFS= read -r h; do
	n=$((n + 1))
	sigs=$(grep -oE '`[a-z_]+\([^`]*\)`' <<<"$h" | tr -d '`' || true)
	if [ -z "$sigs" ]; then
		has_heading lunar-lua.3 "$h" || miss "lunar-lua.3: no heading '$h' (docs/handlers.md)"
		continue
	fi
	while IFS= read -r s; do
		has_heading lunar-lua.3 "$s" || miss "lunar-lua.3: no heading for '$s' (docs/handlers.md)"
	done <<<"$sigs"
done < <(sed -nE 's/^### +//p' "$handlers_md")
[ "$n" -ge 10 ] || fail "found only $n ### headings in docs/handlers.md: its format changed?"

# the names of the tables of its `lun`, `cmd` and `lunar` sections (first
# column): lun fields as lun.NAME
for sec in lun cmd lunar; do
	names=$(awk -v s="## \`$sec\`" '$0 == s { on = 1; next } on && /^## / { exit } on' "$handlers_md" |
		sed -nE 's/^\| ([^|]*`[^|]*) \|.*/\1/p' | grep -oE '`[^`]+`' | tr -d '`' |
		sed -E 's/[[(].*//; s/\.\*$//; s/ +$//')
	[ "$(wc -w <<<"$names")" -ge 5 ] || fail "found no names in docs/handlers.md's \`$sec\` section"
	for name in $names; do
		[ "$sec" = lun ] && name=lun.$name
		has lunar-lua.3 "$name" || miss "lunar-lua.3: no '$name' (docs/handlers.md, \`$sec\`)"
	done
done

# ---- cmake --install -----------------------------------------------------------

prefix=$TESTDIR/prefix
cmake --install "$LUNAR_BUILD_DIR" --prefix "$prefix" >"$TESTDIR/install.log" 2>&1 ||
	fail "cmake --install failed: $(tail -5 "$TESTDIR/install.log")"
for f in "$MAN"/*.[0-9]; do
	p=$(basename "$f")
	got=$(find "$prefix" -path "*/man${p##*.}/$p" | head -1)
	if [ -z "$got" ]; then
		miss "cmake --install: no man${p##*.}/$p under the prefix"
		continue
	fi
	cmp -s "$f" "$got" || miss "cmake --install: $got differs from docs/man/$p"
	if command -v man >/dev/null; then
		mandir=${got%/man*/*}
		man -M "$mandir" -w "${p##*.}" "${p%.*}" >/dev/null 2>&1 ||
			miss "man -M $mandir ${p##*.} ${p%.*} does not find the installed page"
	fi
done

if [ ${#missing[@]} -gt 0 ]; then
	printf '  %s\n' "${missing[@]}" >&2
	fail "${#missing[@]} thing(s) the man pages lack"
fi
echo "the ${#PAGES[@]} man pages render cleanly, cover the help texts, docs and parser, and install"
