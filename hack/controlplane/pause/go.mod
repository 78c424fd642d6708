module ndif.io/hack/controlplane/pause

go 1.26.0
