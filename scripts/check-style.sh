#!/usr/bin/env bash
# The style gate CI runs before the build (scripts/test.sh), and the tool
# developers run before committing. Five things, in this order:
#   1. clang-format: the checked files (C/C++ sources and headers, `.inc`
#      fragments and C/C++ `.in` templates) must be unchanged by the pinned
#      clang-format with the repo's .clang-format.
#   2. Lines per top-level folder (tracked sources), printed as a table.
#   3. The line budget: no tracked source file over 1,500 lines, except the
#      files listed in scripts/line-budget-allowlist.txt (each may not grow
#      past the size written there; an entry for a file now within budget,
#      or gone, is an error too, so the list only shrinks); the folders of
#      FOLDER_LINE_BUDGETS have a budget of their own, below it.
#   4. The source rules (scripts/check-source-rules.py): docs and comments
#      without work-organization wording, no `default:` in a switch over
#      OpKind, comment banners whole.
#   5. Function length (scripts/longest-functions.py): no C/C++ function in
#      the folders of FUNCTION_ENFORCED over FUNCTION_BUDGET lines; those of
#      FUNCTION_REPORTED (folders or files, also inside an enforced folder,
#      which then leaves them out) are listed as warnings.
# Exit status 0 only when all five pass. Documented in docs/style-checks.md.
#
#   scripts/check-style.sh                 check every tracked C/C++ file (CI)
#   scripts/check-style.sh --changed [REV] check the C/C++ files changed since
#                                          the merge base with REV (default:
#                                          main, else origin/main), including
#                                          uncommitted and untracked ones
#   scripts/check-style.sh --fix [...]     reformat those files in place
#                                          instead of failing on them
#   scripts/check-style.sh --format-only | --lines-only | --rules-only |
#                          --functions-only one part only
#   scripts/check-style.sh --enforce-format   format problems fail the check
#                                          even while FORMAT_GATE=report
#
# FORMAT_GATE (below; EMBER_FORMAT_GATE overrides it) says what a file that
# clang-format would change does to the exit status: "enforce" fails the
# check; "report" lists it as a warning and passes. The whole tree was
# formatted in one commit, which set FORMAT_GATE=enforce (docs/
# style-checks.md, "The format gate is on"). The line budget is always
# enforced.
#
# The formatter is pinned to one major version so that CI and developers
# agree (two majors format some constructs differently): the Debian
# `clang-format` package of the supported platform, Debian 12, installed by
# scripts/install-deps.sh. EMBER_CLANG_FORMAT=PATH picks another binary; it
# must have the same major version.
set -euo pipefail

CLANG_FORMAT_MAJOR=14
FORMAT_GATE=enforce
LINE_BUDGET=1500
# Folders held to a smaller file budget ("FOLDER LINES"): a file at the
# budget is a file about to be cut in two for the budget's sake.
FOLDER_LINE_BUDGETS=()
# Functions: the budget, the folders where a longer function fails the gate,
# and the folders or files where it is reported (being split).
FUNCTION_BUDGET=200
FUNCTION_ENFORCED=(core/accel core/quant)
FUNCTION_REPORTED=()
# (EMBER_FUNCTION_REPORTED, space-separated, replaces the list: the
# self-test's way to exercise it while the list is empty.)
if [ -n "${EMBER_FUNCTION_REPORTED:-}" ]; then
  read -ra FUNCTION_REPORTED <<<"$EMBER_FUNCTION_REPORTED"
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ALLOWLIST=scripts/line-budget-allowlist.txt
# Frozen copies that must stay byte-identical to what they copy.
FORMAT_EXEMPT=(tests/kit/skew/backend_abi_1_0.h)

mode=all base="" fix=0 doFormat=1 doLines=1 doRules=1 doFunctions=1
while [ $# -gt 0 ]; do
  case "$1" in
  --changed)
    mode=changed
    if [ $# -gt 1 ] && [ "${2#-}" = "$2" ]; then
      base=$2
      shift
    fi
    ;;
  --changed=*) mode=changed base=${1#--changed=} ;;
  --fix) fix=1 ;;
  --format-only) doLines=0 doRules=0 doFunctions=0 ;;
  --lines-only) doFormat=0 doRules=0 doFunctions=0 ;;
  --rules-only) doFormat=0 doLines=0 doFunctions=0 ;;
  --functions-only) doFormat=0 doLines=0 doRules=0 ;;
  --enforce-format) EMBER_FORMAT_GATE=enforce ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "error: unknown argument '$1' (scripts/check-style.sh; see --help)" >&2
    exit 2
    ;;
  esac
  shift
done

status=0
gate=${EMBER_FORMAT_GATE:-$FORMAT_GATE}
case "$gate" in
enforce | report) ;;
*)
  echo "error: EMBER_FORMAT_GATE='$gate': expected enforce or report (scripts/check-style.sh)" >&2
  exit 2
  ;;
esac

# C/C++ sources: headers, `.inc` fragments included in the middle of a
# file, and C/C++ templates CMake configures (`X.cpp.in`).
is_cxx() {
  case "$1" in
  *.c | *.h | *.cpp | *.hpp | *.cc | *.inc) return 0 ;;
  *.c.in | *.h.in | *.cpp.in | *.hpp.in | *.cc.in) return 0 ;;
  *) return 1 ;;
  esac
}
is_exempt() {
  local f
  for f in "${FORMAT_EXEMPT[@]}"; do
    [ "$f" = "$1" ] && return 0
  done
  return 1
}

# ---- 1. clang-format ---------------------------------------------------------
find_clang_format() {
  local c v
  for c in ${EMBER_CLANG_FORMAT:-} clang-format-$CLANG_FORMAT_MAJOR clang-format; do
    command -v "$c" >/dev/null 2>&1 || continue
    v=$("$c" --version 2>/dev/null | sed -n 's/.*clang-format version \([0-9]*\).*/\1/p')
    if [ "$v" = "$CLANG_FORMAT_MAJOR" ]; then
      echo "$c"
      return 0
    fi
    if [ -n "${EMBER_CLANG_FORMAT:-}" ]; then
      echo "error: EMBER_CLANG_FORMAT=$EMBER_CLANG_FORMAT is clang-format $v, the" \
        "tree is formatted with $CLANG_FORMAT_MAJOR (scripts/check-style.sh)" >&2
      return 1
    fi
  done
  echo "error: clang-format $CLANG_FORMAT_MAJOR not found (scripts/check-style.sh;" \
    "bash scripts/install-deps.sh installs it, or set EMBER_CLANG_FORMAT)" >&2
  return 1
}

files=()
if [ $doFormat = 1 ] || [ $doRules = 1 ] || [ $doFunctions = 1 ]; then
  if [ $mode = all ]; then
    while IFS= read -r -d '' f; do files+=("$f"); done < <(git ls-files -z)
  else
    if [ -z "$base" ]; then
      if git rev-parse -q --verify main >/dev/null; then
        base=main
      else
        base=origin/main
      fi
    fi
    if ! mb=$(git merge-base "$base" HEAD 2>/dev/null); then
      echo "error: no merge base with '$base' (scripts/check-style.sh --changed)" >&2
      exit 2
    fi
    while IFS= read -r -d '' f; do files+=("$f"); done < <(
      {
        git diff -z --name-only --diff-filter=d "$mb"
        git ls-files -z --others --exclude-standard
      } | sort -zu
    )
  fi
fi

if [ $doFormat = 1 ]; then
  checked=()
  for f in "${files[@]}"; do
    if is_cxx "$f" && [ -f "$f" ] && ! is_exempt "$f"; then
      checked+=("$f")
    fi
  done
  cf=$(find_clang_format) || exit 2
  what="tracked C/C++ files"
  [ $mode = changed ] && what="C/C++ files changed since $(git rev-parse --short "$mb") ($base)"
  bad=()
  if [ ${#checked[@]} -gt 0 ]; then
    if [ $fix = 1 ]; then
      printf '%s\0' "${checked[@]}" | xargs -0 -n 32 "$cf" -i
    fi
    # --dry-run -Werror prints a diagnostic per change; list the files once.
    while IFS= read -r f; do bad+=("$f"); done < <(
      printf '%s\0' "${checked[@]}" |
        xargs -0 -n 32 -P 2 "$cf" --dry-run -Werror 2>&1 |
        sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' |
        sort -u
    )
  fi
  echo "format: ${#checked[@]} $what, $("$cf" --version | sed 's/^.*clang-format/clang-format/'), ${#bad[@]} not formatted"
  if [ ${#bad[@]} -gt 0 ]; then
    level=error
    [ "$gate" = report ] && level=warning
    for f in "${bad[@]}"; do
      echo "$level: not clang-formatted ($f)" >&2
    done
    hint="bash scripts/check-style.sh --fix"
    [ $mode = changed ] && hint="$hint --changed $base"
    echo "format: run '$hint' (clang-format $CLANG_FORMAT_MAJOR)" >&2
    if [ "$gate" = enforce ]; then
      status=1
    else
      echo "format: FORMAT_GATE=report: not failing (scripts/check-style.sh; --enforce-format fails)" >&2
    fi
  fi
fi

# ---- 2. lines per top-level folder -------------------------------------------
# ---- 3. the line budget ------------------------------------------------------
if [ $doLines = 1 ]; then
  # Sources: code in any language the tree holds; docs and data are not.
  counts=$(mktemp)
  trap 'rm -f "$counts"' EXIT
  git ls-files -z |
    grep -zE '\.(c|h|cpp|hpp|cc|def|inc|py|sh|cmake|sv|v|proto)(\.in)?$|(^|/)CMakeLists\.txt$|^\.ci/run$' |
    xargs -0 wc -l | grep -v '^ *[0-9]* total$' |
    sed 's/^ *\([0-9]*\) /\1\t/' >"$counts"
  awk -F'\t' '
    function lang(p) {
      if (p ~ /\.(c|h|cpp|hpp|cc|def|inc)(\.in)?$/) return "cxx"
      if (p ~ /\.py(\.in)?$/) return "py"
      if (p ~ /\.(sv|v)$/) return "hdl"
      return "other"
    }
    {
      n = $1; p = $2
      top = index(p, "/") ? substr(p, 1, index(p, "/") - 1) : "(root)"
      files[top]++; total[top] += n; by[top, lang(p)] += n
      all += n; nfiles++
    }
    END {
      fmt = "lines: %-14s %6s %8s %8s %8s %8s %8s\n"
      printf fmt, "folder", "files", "c/c++", "python", "hdl", "other", "total"
      k = 0
      for (t in files) keys[++k] = t
      for (i = 1; i <= k; i++)
        for (j = i + 1; j <= k; j++)
          if (keys[j] < keys[i]) { x = keys[i]; keys[i] = keys[j]; keys[j] = x }
      for (i = 1; i <= k; i++) {
        t = keys[i]
        printf fmt, t, files[t], by[t, "cxx"] + 0, by[t, "py"] + 0, by[t, "hdl"] + 0, by[t, "other"] + 0, total[t]
        c += by[t, "cxx"]; y += by[t, "py"]; h += by[t, "hdl"]; b += by[t, "other"]
      }
      printf fmt, "total", nfiles, c + 0, y + 0, h + 0, b + 0, all + 0
    }' "$counts"
  # The budget, from the per-file counts.
  declare -A allowed=()
  if [ -f "$ALLOWLIST" ]; then
    lineno=0
    while IFS= read -r line || [ -n "$line" ]; do
      lineno=$((lineno + 1))
      line=${line%%#*}
      read -r path max rest <<<"$line" || true
      [ -z "${path:-}" ] && continue
      if ! [[ "${max:-}" =~ ^[0-9]+$ ]] || [ -n "${rest:-}" ]; then
        echo "error: expected 'PATH MAX_LINES' ($ALLOWLIST:$lineno)" >&2
        status=1
        continue
      fi
      allowed[$path]=$max
    done <"$ALLOWLIST"
  fi
  declare -A seen=()
  over=0
  while IFS=$'\t' read -r n p; do
    seen[$p]=$n
    for fb in "${FOLDER_LINE_BUDGETS[@]}"; do
      read -r folder most <<<"$fb"
      if [ "${p#"$folder"/}" != "$p" ] && [ "$n" -gt "$most" ]; then
        echo "error: $p has $n lines, over the $most-line budget of $folder/; split it along its seams (docs/style-checks.md)" >&2
        status=1
        over=$((over + 1))
      fi
    done
    if [ -n "${allowed[$p]:-}" ]; then
      if [ "$n" -gt "${allowed[$p]}" ]; then
        echo "error: $p has $n lines, more than the ${allowed[$p]} its allowlist entry permits; split it, do not raise the entry ($ALLOWLIST)" >&2
        status=1
      fi
    elif [ "$n" -gt $LINE_BUDGET ]; then
      echo "error: $p has $n lines, over the $LINE_BUDGET-line budget; split it along its seams (docs/style-checks.md)" >&2
      status=1
      over=$((over + 1))
    fi
  done <"$counts"
  for p in "${!allowed[@]}"; do
    if [ -z "${seen[$p]:-}" ]; then
      echo "error: $p is in the allowlist but not in the tree; remove its line ($ALLOWLIST)" >&2
      status=1
    elif [ "${seen[$p]}" -le $LINE_BUDGET ]; then
      echo "error: $p has ${seen[$p]} lines, within the $LINE_BUDGET-line budget; remove its line ($ALLOWLIST)" >&2
      status=1
    fi
  done
  budgets=""
  for fb in "${FOLDER_LINE_BUDGETS[@]}"; do
    read -r folder most <<<"$fb"
    budgets="$budgets, $most in $folder/"
  done
  echo "lines: budget $LINE_BUDGET per source file$budgets, ${#allowed[@]} allowlisted, $over new over budget"
fi

# ---- 4. the source rules -----------------------------------------------------
if [ $doRules = 1 ]; then
  rules=(python3 scripts/check-source-rules.py)
  if [ $mode = changed ]; then
    existing=()
    for f in "${files[@]}"; do
      [ -f "$f" ] && existing+=("$f")
    done
    if [ ${#existing[@]} -eq 0 ]; then
      echo "rules: no changed files"
    elif ! "${rules[@]}" "${existing[@]}"; then
      status=1
    fi
  elif ! "${rules[@]}"; then
    status=1
  fi
fi

# ---- 5. function length ------------------------------------------------------
# The C/C++ files of a folder (all of them, or the changed ones).
folder_files() {
  local folder=$1 f
  if [ $mode = all ]; then
    git ls-files -- "$folder" | while IFS= read -r f; do
      is_cxx "$f" && [ -f "$f" ] && echo "$f"
    done
  else
    for f in "${files[@]}"; do
      { [ "${f#"$folder"/}" != "$f" ] || [ "$f" = "$folder" ]; } &&
        is_cxx "$f" && [ -f "$f" ] && echo "$f"
    done
  fi
  return 0
}
if [ $doFunctions = 1 ]; then
  enforced=0 reported=0
  for folder in "${FUNCTION_ENFORCED[@]}" "${FUNCTION_REPORTED[@]}"; do
    warn=()
    for r in "${FUNCTION_REPORTED[@]}"; do
      [ "$r" = "$folder" ] && warn=(--warn)
    done
    mapfile -t ff < <(folder_files "$folder")
    if [ ${#warn[@]} -eq 0 ]; then # what is reported is not enforced too
      kept=()
      for f in "${ff[@]}"; do
        skip=0
        for r in "${FUNCTION_REPORTED[@]}"; do
          if [ "$f" = "$r" ] || [ "${f#"$r"/}" != "$f" ]; then skip=1; fi
        done
        [ $skip = 0 ] && kept+=("$f")
      done
      ff=("${kept[@]}")
    fi
    [ ${#ff[@]} -eq 0 ] && continue
    out=$(python3 scripts/longest-functions.py --max $FUNCTION_BUDGET "${warn[@]}" "${ff[@]}" 2>&1) || status=1
    if [ -n "$out" ]; then
      echo "$out" >&2
      n=$(grep -c . <<<"$out")
      if [ ${#warn[@]} -gt 0 ]; then reported=$((reported + n)); else enforced=$((enforced + n)); fi
    fi
  done
  echo "functions: budget $FUNCTION_BUDGET lines in ${FUNCTION_ENFORCED[*]:-(none)} ($enforced over), reported in ${FUNCTION_REPORTED[*]:-(none)} ($reported over)"
fi

exit $status
