#!/usr/bin/env bash
# lzctl in a pipeline: the commands the example GitHub Actions workflow and
# GitLab CI pipeline run, kept here so that both call the same steps and a
# test can run them against the emulator.
#
#   lzctl-ci.sh plan    on a pull/merge request: lint the policies, plan,
#                       post the Markdown plan as a comment, fail on lint
#                       errors or a refused plan (a lockout)
#   lzctl-ci.sh apply   on merge: take the organization's lock, then plan
#                       the merged file and apply it
#
# Settings (environment):
#   LZ_CONFIG         the landing-zone file (default landing-zone.yaml)
#   LZCTL             the lzctl binary (default: lzctl on PATH)
#   LZ_PLAN           where the plan is saved (default lzctl-plan.json)
#   LZ_LOCK_TIMEOUT   how long apply waits for another apply (default 30m)
#   AWS credentials as the SDK reads them (OIDC: the workflow sets them up).
# Comment posting, by platform:
#   GitHub:  GITHUB_ACTIONS, GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN, PR_NUMBER
#   GitLab:  GITLAB_CI, CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, GITLAB_TOKEN
# Without them (a local run) the comment is printed instead of posted.
set -uo pipefail

config="${LZ_CONFIG:-landing-zone.yaml}"
lzctl="${LZCTL:-lzctl}"
plan_file="${LZ_PLAN:-lzctl-plan.json}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The comment body as a JSON string field.
json_body() {
  jq -Rs '{body: .}' < "$1"
}

post_comment() {
  local file="$1"
  if [[ "${GITHUB_ACTIONS:-}" == "true" && -n "${PR_NUMBER:-}" ]]; then
    json_body "$file" | curl --fail-with-body -sS -X POST \
      -H "Authorization: Bearer ${GITHUB_TOKEN:?GITHUB_TOKEN is needed to comment}" \
      -H "Accept: application/vnd.github+json" \
      -H "X-GitHub-Api-Version: 2022-11-28" \
      -H "Content-Type: application/json" \
      --data-binary @- \
      "${GITHUB_API_URL:-https://api.github.com}/repos/${GITHUB_REPOSITORY}/issues/${PR_NUMBER}/comments" >/dev/null
  elif [[ "${GITLAB_CI:-}" == "true" && -n "${CI_MERGE_REQUEST_IID:-}" ]]; then
    json_body "$file" | curl --fail-with-body -sS -X POST \
      -H "PRIVATE-TOKEN: ${GITLAB_TOKEN:?GITLAB_TOKEN is needed to comment}" \
      -H "Content-Type: application/json" \
      --data-binary @- \
      "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/merge_requests/${CI_MERGE_REQUEST_IID}/notes" >/dev/null
  else
    echo "--- comment (not posted: no pull or merge request) ---" >&2
    cat "$file" >&2
  fi
}

plan() {
  local comment="$work/comment.md" lint="$work/lint.txt" rc
  # Lint errors fail the check before anything is read from AWS.
  if ! "$lzctl" scp lint -c "$config" >"$lint" 2>&1; then
    {
      echo "### lzctl plan"
      echo
      echo "**The policies have lint errors; nothing was planned.**"
      echo
      echo '```'
      cat "$lint"
      echo '```'
    } >"$comment"
    post_comment "$comment"
    cat "$lint" >&2
    return 1
  fi
  # A refused plan (a lockout) prints its reasons as Markdown and exits 1.
  "$lzctl" plan -c "$config" --markdown --out "$plan_file" >"$comment"
  rc=$?
  if [[ ! -s "$comment" ]]; then
    printf '### lzctl plan\n\n**lzctl could not plan (exit %s); see the job log.**\n' "$rc" >"$comment"
  fi
  post_comment "$comment" || return 1
  return "$rc"
}

apply() {
  # apply plans the merged file itself, once it holds the lock: a plan saved
  # before waiting for another pipeline's apply would be refused as stale
  # when that apply changed something. The applied plan's digest is in the
  # audit log.
  "$lzctl" apply -c "$config" --auto-approve --lock-timeout "${LZ_LOCK_TIMEOUT:-30m}"
}

case "${1:-}" in
  plan) plan ;;
  apply) apply ;;
  *)
    echo "usage: $0 plan|apply" >&2
    exit 2
    ;;
esac
