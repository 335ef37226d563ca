#!/usr/bin/env bash
# Creates the webhook's serving certificate (a private CA and a certificate
# for portcullis.portcullis-system.svc), stores it as the Secret
# portcullis-tls, and writes the CA into both webhook configurations.
# Re-run to rotate: the server reloads the certificate files when they change.
#   deploy/tls.sh [DAYS]     (needs openssl and kubectl)
set -euo pipefail
days=${1:-365}
ns=portcullis-system
svc=portcullis
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
    -subj "/CN=portcullis-webhook-ca" -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=$svc.$ns.svc" -keyout tls.key -out tls.csr 2>/dev/null
printf 'subjectAltName=DNS:%s,DNS:%s.%s,DNS:%s.%s.svc\nextendedKeyUsage=serverAuth\n' \
    "$svc" "$svc" "$ns" "$svc" "$ns" > ext.cnf
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" \
    -extfile ext.cnf -out tls.crt 2>/dev/null
kubectl -n "$ns" create secret tls portcullis-tls --cert=tls.crt --key=tls.key \
    --dry-run=client -o yaml | kubectl apply -f -
ca=$(base64 -w0 < ca.crt)
for kind in mutatingwebhookconfiguration validatingwebhookconfiguration; do
    kubectl patch "$kind" portcullis --type=json \
        -p "[{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig/caBundle\",\"value\":\"$ca\"}]"
done
echo "portcullis-tls created; webhooks trust $(openssl x509 -in ca.crt -noout -subject)"
