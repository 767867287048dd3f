# `python -m app check --format json` → GitHub Actions annotations, one workflow command a line:
#   ::error file=policy.yml,line=18,col=26::unknown bundle 'prod-write' (hint: ...)
# Run as `jq -r -f docs/schemas/github-annotations.jq diagnostics.json` (README, "Policy CI").
# Workflow commands end at a newline and their properties at ',' or ':', so those are escaped.
def escape: gsub("%"; "%25") | gsub("\r"; "%0D") | gsub("\n"; "%0A");
def property: escape | gsub(":"; "%3A") | gsub(","; "%2C");
.diagnostics[]
| "::\(.severity) file=\(.file | property)"
  + (if .line == null then "" else ",line=\(.line),col=\(.column)" end)
  + "::"
  + ((.message + (if .hint == null then "" else " (hint: \(.hint))" end)) | escape)
