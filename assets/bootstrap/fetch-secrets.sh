# shellcheck shell=bash
# nodegen: fetch this node's secret files from the cloud's secret service (aws/gcp with a secret
# backend). Sourced by bootstrap.sh (its log, die, param, backoff, STATE_DIR and ROOT); the same
# file for every cluster, shipped only to nodes that have a secret bundle.
#
# User-data on EC2 and GCE stays readable through the metadata service for the instance's life, so
# on those clouds this node's secret files (CA keys, the token calendar, the kubeadm configuration)
# are not in it: launch stored them as a bundle only this node's identity may read and delete. This
# step gets the node's credentials from the metadata service, reads the bundle over HTTPS, checks
# its sha256 against the one in secrets.env, deletes the secret (AWS) or destroys its version (GCP)
# and only then installs the files, 0600. If the secret cannot be deleted nothing is installed and
# the node stops: no secret stays both on the node and in the service. Only curl, coreutils
# (sha256sum, base64, od) and tar are used, no AWS CLI or gcloud; credentials stay in shell
# variables and 0600 files, never on a command line.
SECRETS_STAGE="$STATE_DIR/secrets-stage"
# Which files of the bundle to install: "path<TAB>mode" lines.
SECRETS_LIST_FILE="$NODEGEN_ETC/secrets.tsv"

sha256_hex() { sha256sum | cut -c1-64; }

# Hex digits as printf escapes (safe as a format string: nothing else is in it).
hex_escapes() {
  local hex=$1 out='' i
  for ((i = 0; i < ${#hex}; i += 2)); do out+="\\x${hex:i:2}"; done
  printf '%s' "$out"
}

# hmac_sha256_hex KEY_HEX MESSAGE: RFC 2104 over sha256sum, so no key is ever in a process's
# arguments (openssl's -macopt would put it there). SigV4's keys fit one 64-byte block.
hmac_sha256_hex() {
  local key=$1 msg=$2 i b x ipad='' opad='' inner
  [ "${#key}" -le 128 ] || die "internal: HMAC key longer than a block"
  while [ "${#key}" -lt 128 ]; do key+=00; done
  for ((i = 0; i < 128; i += 2)); do
    b=$((16#${key:i:2}))
    printf -v x '\\x%02x' $((b ^ 0x36))
    ipad+=$x
    printf -v x '\\x%02x' $((b ^ 0x5c))
    opad+=$x
  done
  # shellcheck disable=SC2059 # formats of \xHH escapes only
  inner=$({ printf "$ipad"; printf '%s' "$msg"; } | sha256_hex)
  # shellcheck disable=SC2059
  { printf "$opad"; printf "$(hex_escapes "$inner")"; } | sha256_hex
}

str_hex() { od -An -v -tx1 | tr -d ' \n'; }

# JSON string field of a flat response body in FILE (values nodegen reads never contain quotes).
json_field() { sed -n -E "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"([^\"]*)\".*/\1/p" "$2" | head -n 1 | tr -d '\134'; }

# url_param KEY SCHEME: a URL from secrets.env, only scheme://host[:port].
url_param() {
  local url
  url=$(param "$1")
  [[ "$url" =~ ^$2://[A-Za-z0-9.-]+(:[0-9]+)?$ ]] || die "secrets.env: $1 is not $2://host[:port]"
  printf '%s' "$url"
}
metadata_url() { url_param SECRET_METADATA_URL http; }
service_url() { url_param SECRET_SERVICE_URL https; }

# Headers go in files, never on a command line; the metadata service is never reached through a proxy.
md_curl() { curl -fsS -m 10 --retry 3 --retry-connrefused --noproxy '*' --proto '=http' "$@"; }
svc_curl() { curl -sS -m 30 --retry 3 --proto '=https' "$@"; }

AWS_AKID='' AWS_SECRET='' AWS_TOKEN=''
aws_credentials() {
  local md token role
  md=$(metadata_url)
  token=$(md_curl -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$md/latest/api/token") ||
    die "cannot get an IMDSv2 token from $md"
  printf 'X-aws-ec2-metadata-token: %s\n' "$token" >"$SECRETS_STAGE/md-headers"
  role=$(md_curl -H @"$SECRETS_STAGE/md-headers" "$md/latest/meta-data/iam/security-credentials/" | head -n 1) ||
    die "this instance has no IAM role (instance profile): it cannot read its secrets"
  [[ "$role" =~ ^[A-Za-z0-9+=,.@_-]{1,64}$ ]] || die "the metadata service returned no usable role name"
  md_curl -H @"$SECRETS_STAGE/md-headers" "$md/latest/meta-data/iam/security-credentials/$role" >"$SECRETS_STAGE/creds.json" ||
    die "cannot read the credentials of role $role from the metadata service"
  AWS_AKID=$(json_field AccessKeyId "$SECRETS_STAGE/creds.json")
  AWS_SECRET=$(json_field SecretAccessKey "$SECRETS_STAGE/creds.json")
  AWS_TOKEN=$(json_field Token "$SECRETS_STAGE/creds.json")
  rm -f "$SECRETS_STAGE/creds.json" "$SECRETS_STAGE/md-headers"
  [[ "$AWS_AKID" =~ ^[A-Z0-9]{16,128}$ && "$AWS_SECRET" =~ ^[A-Za-z0-9/+=]{16,128}$ && "$AWS_TOKEN" =~ ^[A-Za-z0-9/+=]*$ ]] ||
    die "the role credentials from the metadata service are not in the expected form"
}

# aws_call SERVICE TARGET BODY OUT — a SigV4-signed JSON 1.1 POST; prints the HTTP status.
aws_call() {
  local service=$1 target=$2 body=$3 out=$4 url host region amz_date day scope payload_hash canonical signed sts k sig
  url=$(service_url)
  host=${url#https://}
  region=$(param SECRET_REGION)
  [[ "$region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$ ]] || die "secrets.env: SECRET_REGION is not an AWS region"
  amz_date=$(date -u +%Y%m%dT%H%M%SZ)
  day=${amz_date%%T*}
  scope="$day/$region/$service/aws4_request"
  payload_hash=$(printf '%s' "$body" | sha256_hex)
  signed='content-type;host;x-amz-date;x-amz-security-token;x-amz-target'
  canonical=$(printf 'POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:%s\nx-amz-date:%s\nx-amz-security-token:%s\nx-amz-target:%s\n\n%s\n%s' \
    "$host" "$amz_date" "$AWS_TOKEN" "$target" "$signed" "$payload_hash")
  sts=$(printf 'AWS4-HMAC-SHA256\n%s\n%s\n%s' "$amz_date" "$scope" "$(printf '%s' "$canonical" | sha256_hex)")
  k=$(hmac_sha256_hex "$(printf '%s' "AWS4$AWS_SECRET" | str_hex)" "$day")
  k=$(hmac_sha256_hex "$k" "$region")
  k=$(hmac_sha256_hex "$k" "$service")
  k=$(hmac_sha256_hex "$k" aws4_request)
  sig=$(hmac_sha256_hex "$k" "$sts")
  printf 'Host: %s\nContent-Type: application/x-amz-json-1.1\nX-Amz-Date: %s\nX-Amz-Security-Token: %s\nX-Amz-Target: %s\n' \
    "$host" "$amz_date" "$AWS_TOKEN" "$target" >"$SECRETS_STAGE/headers"
  printf 'Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s\n' \
    "$AWS_AKID" "$scope" "$signed" "$sig" >>"$SECRETS_STAGE/headers"
  printf '%s' "$body" >"$SECRETS_STAGE/body"
  svc_curl -X POST -H @"$SECRETS_STAGE/headers" --data-binary @"$SECRETS_STAGE/body" -o "$out" -w '%{http_code}' "$url/" || printf '000'
  rm -f "$SECRETS_STAGE/headers" "$SECRETS_STAGE/body"
}

GCP_TOKEN=''
gcp_credentials() {
  local md
  md=$(metadata_url)
  md_curl -H 'Metadata-Flavor: Google' "$md/computeMetadata/v1/instance/service-accounts/default/token" >"$SECRETS_STAGE/token.json" ||
    die "cannot get an access token from the metadata server $md (does the instance have its service account?)"
  GCP_TOKEN=$(json_field access_token "$SECRETS_STAGE/token.json")
  rm -f "$SECRETS_STAGE/token.json"
  [[ "$GCP_TOKEN" =~ ^[A-Za-z0-9._~+/=-]+$ ]] || die "the metadata server returned no usable access token"
  printf 'Authorization: Bearer %s\n' "$GCP_TOKEN" >"$SECRETS_STAGE/gcp-headers"
}

# Appends chunk NAME's base64 text to the staged bundle.
fetch_chunk() {
  local name=$1 code out="$SECRETS_STAGE/response" version project
  case "$(param SECRET_BACKEND)" in
    aws-secrets-manager)
      code=$(aws_call secretsmanager secretsmanager.GetSecretValue "{\"SecretId\":\"$name\"}" "$out")
      [ "$code" = 200 ] || die "GetSecretValue $name: HTTP $code $(json_field __type "$out")"
      json_field SecretString "$out" >>"$SECRETS_STAGE/bundle.b64"
      ;;
    ssm-parameter-store)
      code=$(aws_call ssm AmazonSSM.GetParameter "{\"Name\":\"$name\",\"WithDecryption\":true}" "$out")
      [ "$code" = 200 ] || die "GetParameter $name: HTTP $code $(json_field __type "$out")"
      json_field Value "$out" >>"$SECRETS_STAGE/bundle.b64"
      ;;
    gcp-secret-manager)
      project=$(param SECRET_PROJECT)
      [[ "$project" =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] || die "secrets.env: SECRET_PROJECT is not a project id"
      code=$(svc_curl -H @"$SECRETS_STAGE/gcp-headers" -o "$out" -w '%{http_code}' \
        "$(service_url)/v1/projects/$project/secrets/$name/versions/latest:access") || code=000
      [ "$code" = 200 ] || die "accessing secret $name: HTTP $code"
      version=$(json_field name "$out")
      [[ "$version" =~ ^projects/[a-z0-9-]+/secrets/[A-Za-z0-9_-]+/versions/[0-9]+$ ]] || die "accessing secret $name: no version name in the response"
      printf '%s\n' "$version" >>"$SECRETS_STAGE/versions"
      json_field data "$out" | base64 -d >>"$SECRETS_STAGE/bundle.b64" || die "accessing secret $name: the payload is not base64"
      ;;
    *) die "secrets.env: unknown SECRET_BACKEND" ;;
  esac
  rm -f "$out"
}

# Deletes chunk NAME (or destroys version NAME on GCP); one that is already gone counts as deleted.
delete_chunk() {
  local name=$1 code out="$SECRETS_STAGE/response" kind
  case "$(param SECRET_BACKEND)" in
    aws-secrets-manager)
      code=$(aws_call secretsmanager secretsmanager.DeleteSecret "{\"SecretId\":\"$name\",\"ForceDeleteWithoutRecovery\":true}" "$out")
      kind=$(json_field __type "$out")
      [ "$code" = 200 ] || [[ "$kind" == *ResourceNotFoundException ]] || { rm -f "$out"; return 1; }
      ;;
    ssm-parameter-store)
      code=$(aws_call ssm AmazonSSM.DeleteParameter "{\"Name\":\"$name\"}" "$out")
      kind=$(json_field __type "$out")
      [ "$code" = 200 ] || [[ "$kind" == *ParameterNotFound ]] || { rm -f "$out"; return 1; }
      ;;
    gcp-secret-manager)
      code=$(svc_curl -X POST -H @"$SECRETS_STAGE/gcp-headers" -H 'Content-Type: application/json' --data-binary '{}' \
        -o "$out" -w '%{http_code}' "$(service_url)/v1/$name:destroy") || code=000
      [ "$code" = 200 ] || { [ "$code" = 400 ] && grep -q 'DESTROYED' "$out"; } || { rm -f "$out"; return 1; }
      ;;
  esac
  rm -f "$out"
}

fetch_secrets() {
  local want have name path mode attempt
  local -a names=()
  want=$(param SECRET_BUNDLE_SHA256)
  [[ "$want" =~ ^[0-9a-f]{64}$ ]] || die "secrets.env: SECRET_BUNDLE_SHA256 is not a sha256"
  [ -r "$SECRETS_LIST_FILE" ] || die "$SECRETS_LIST_FILE is missing"
  mkdir -p "$SECRETS_STAGE"
  chmod 0700 "$SECRETS_STAGE"
  case "$(param SECRET_BACKEND)" in
    gcp-secret-manager) gcp_credentials ;;
    *) aws_credentials ;;
  esac
  # A run that stopped after deleting the secret kept the verified bundle here: use it.
  have=''
  [ -s "$SECRETS_STAGE/bundle.tgz" ] && have=$(sha256_hex <"$SECRETS_STAGE/bundle.tgz")
  if [ "$have" != "$want" ]; then
    rm -f "$SECRETS_STAGE/bundle.b64" "$SECRETS_STAGE/bundle.tgz" "$SECRETS_STAGE/versions"
    read -r -a names <<<"$(param SECRET_NAMES)"
    for name in "${names[@]}"; do
      [[ "$name" =~ ^[A-Za-z0-9/_.@+=-]{1,512}$ ]] || die "secrets.env: bad secret name"
      fetch_chunk "$name"
    done
    tr -d '\n' <"$SECRETS_STAGE/bundle.b64" | base64 -d >"$SECRETS_STAGE/bundle.tgz" 2>/dev/null || true
    rm -f "$SECRETS_STAGE/bundle.b64"
    have=$(sha256_hex <"$SECRETS_STAGE/bundle.tgz")
    if [ "$have" != "$want" ]; then
      rm -rf "$SECRETS_STAGE"
      die "the secret bundle's sha256 is $have, user-data expects $want: not installing it"
    fi
  fi
  # Delete before installing: if the service keeps the secret, the node does not keep it either.
  local -a targets=()
  if [ "$(param SECRET_BACKEND)" = gcp-secret-manager ]; then
    [ -r "$SECRETS_STAGE/versions" ] && mapfile -t targets <"$SECRETS_STAGE/versions"
  else
    read -r -a targets <<<"$(param SECRET_NAMES)"
  fi
  for name in "${targets[@]}"; do
    attempt=1
    until delete_chunk "$name"; do
      if [ "$attempt" -ge 3 ]; then
        rm -rf "$SECRETS_STAGE"
        die "cannot delete secret $name from $(param SECRET_BACKEND): refusing to run with secrets the service still holds"
      fi
      backoff "$attempt"
      attempt=$((attempt + 1))
    done
  done
  rm -rf "$SECRETS_STAGE/files"
  mkdir -p "$SECRETS_STAGE/files"
  tar -xzf "$SECRETS_STAGE/bundle.tgz" -C "$SECRETS_STAGE/files" --no-same-owner --no-same-permissions ||
    { rm -rf "$SECRETS_STAGE"; die "the secret bundle is not a tar.gz archive"; }
  # Only the files user-data lists are installed, each 0600.
  local n=0
  while IFS=$'\t' read -r path mode; do
    case "$path" in '' | '#'*) continue ;; esac
    [[ "$path" =~ ^(/[A-Za-z0-9._-]+)+$ && "$path" != *..* && "$mode" =~ ^0[0-7]{3}$ ]] || { rm -rf "$SECRETS_STAGE"; die "$SECRETS_LIST_FILE has a bad line"; }
    [ -f "$SECRETS_STAGE/files$path" ] || { rm -rf "$SECRETS_STAGE"; die "the secret bundle lacks $path"; }
    mkdir -p "$(dirname "$ROOT$path")"
    install -m 0600 "$SECRETS_STAGE/files$path" "$ROOT$path.nodegen-tmp"
    mv -f "$ROOT$path.nodegen-tmp" "$ROOT$path"
    n=$((n + 1))
  done <"$SECRETS_LIST_FILE"
  rm -rf "$SECRETS_STAGE"
  AWS_SECRET='' AWS_TOKEN='' GCP_TOKEN=''
  log "secrets: $n files installed from $(param SECRET_BACKEND), which no longer holds them"
}

