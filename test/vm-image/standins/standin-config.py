#!/usr/bin/python3
"""What the kubeadm stand-in needs from a kubeadm configuration file (nodegen test image only).

Reads the multi-document YAML kubeadm reads (Init/Cluster/JoinConfiguration, v1beta3 or v1beta4) and
the node's kubeadm patches, and prints KEY=VALUE lines the stand-in reads as data:

  NAME            nodeRegistration.name (kubeadm's default: the hostname)
  ADVERTISE       localAPIEndpoint.advertiseAddress (init) or controlPlane.localAPIEndpoint (join)
  BIND_PORT       the API server's port (default 6443)
  BIND_ADDRESS    --bind-address from a kube-apiserver JSON patch in the patches directory, else 0.0.0.0
  ENDPOINT        controlPlaneEndpoint (init) or discovery.bootstrapToken.apiServerEndpoint (join)
  CONTROL_PLANE   1 for init and for a join with a controlPlane section
  ETCD_LOCAL      1 when etcd is stacked (ClusterConfiguration.etcd.local, or a control-plane join)
  ETCD_DATA_DIR   etcd.local.dataDir (default /var/lib/etcd)
  CA_CERT_HASHES  discovery.bootstrapToken.caCertHashes, space separated
  CERT_SANS       apiServer.certSANs, space separated
"""
import glob
import json
import os
import socket
import sys

import yaml


def main(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if isinstance(d, dict)]
    by_kind = {d.get("kind"): d for d in docs}
    init = by_kind.get("InitConfiguration")
    join = by_kind.get("JoinConfiguration")
    cluster = by_kind.get("ClusterConfiguration") or {}
    out = {}
    main_doc = init or join or {}
    reg = main_doc.get("nodeRegistration") or {}
    out["NAME"] = reg.get("name") or socket.gethostname()
    if init is not None:
        ep = init.get("localAPIEndpoint") or {}
        out["CONTROL_PLANE"] = "1"
        out["ENDPOINT"] = cluster.get("controlPlaneEndpoint", "")
    else:
        cp = (join or {}).get("controlPlane")
        ep = (cp or {}).get("localAPIEndpoint") or {}
        out["CONTROL_PLANE"] = "1" if cp is not None else "0"
        token = ((join or {}).get("discovery") or {}).get("bootstrapToken") or {}
        out["ENDPOINT"] = token.get("apiServerEndpoint", "")
        out["CA_CERT_HASHES"] = " ".join(token.get("caCertHashes") or [])
    out["ADVERTISE"] = ep.get("advertiseAddress", "")
    out["BIND_PORT"] = str(ep.get("bindPort", 6443))
    etcd = cluster.get("etcd") or {}
    # A joining control plane's file carries a ClusterConfiguration only for the image pre-pull;
    # kubeadm takes the real one from the cluster, where nodegen's stacked etcd is local.
    local = "external" not in etcd
    out["ETCD_LOCAL"] = "1" if out["CONTROL_PLANE"] == "1" and local else "0"
    out["ETCD_DATA_DIR"] = ((etcd.get("local") or {}).get("dataDir")) or "/var/lib/etcd"
    out["CERT_SANS"] = " ".join((cluster.get("apiServer") or {}).get("certSANs") or [])
    bind = "0.0.0.0"
    patches = main_doc.get("patches") or {}
    directory = patches.get("directory")
    if directory:
        for f in sorted(glob.glob(os.path.join(directory, "kube-apiserver*+json.json"))):
            for op in json.load(open(f)):
                value = op.get("value")
                if isinstance(value, str) and value.startswith("--bind-address="):
                    bind = value.split("=", 1)[1]
    out["BIND_ADDRESS"] = bind
    for k in sorted(out):
        v = str(out[k])
        if "\n" in v:
            raise SystemExit("newline in " + k)
        print(k + "=" + v)


if __name__ == "__main__":
    main(sys.argv[1])
