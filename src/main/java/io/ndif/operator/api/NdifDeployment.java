package io.ndif.operator.api;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Categories;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/** One model served on an NdifCluster (a Ray Serve application) or on its own RayService. */
@ValidationRule(
    value =
        "!has(self.spec.isolation) || self.spec.isolation != 'Dedicated'"
            + " || (self.metadata.name.size() <= 47"
            + " && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$'))",
    message =
        "a Dedicated deployment's name names its RayService: at most 47 characters, lower-case"
            + " letters, digits and '-', starting with a letter (KubeRay's limits)")
@ValidationRule(
    value = "self.metadata.name != 'ndif-gateway'",
    message = "ndif-gateway is the name of the cluster's NDIF gateway application; choose another")
@Group(Constants.GROUP)
@Version(Constants.VERSION)
@ShortNames("ndd")
@Categories("ndif")
@AdditionalPrinterColumn(
    name = "Model",
    jsonPath = ".spec.model.repoId",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Cluster",
    jsonPath = ".spec.clusterRef",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.replicaSummary",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "GPUs",
    jsonPath = ".status.gpusPerReplica",
    type = AdditionalPrinterColumn.Type.NUMBER)
@AdditionalPrinterColumn(
    name = "Status",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].reason",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Level",
    jsonPath = ".status.level",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Pinned",
    jsonPath = ".status.pinned",
    type = AdditionalPrinterColumn.Type.BOOLEAN)
@AdditionalPrinterColumn(
    name = "Window Ends",
    jsonPath = ".status.schedule.current.end",
    type = AdditionalPrinterColumn.Type.DATE,
    priority = 1)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class NdifDeployment extends CustomResource<NdifDeploymentSpec, NdifDeploymentStatus>
    implements Namespaced {}
