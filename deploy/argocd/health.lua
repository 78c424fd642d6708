-- Argo CD health check for NdifCluster and NdifDeployment (ndif.io): register it for both kinds
-- under resource.customizations.health.ndif.io_NdifCluster and ..._NdifDeployment in argocd-cm
-- (docs/gitops.md). It reads the same conditions as kstatus: Stalled is Degraded, Ready and not
-- Reconciling is Healthy, anything else (a generation not observed yet included) is Progressing.
local hs = {status = "Progressing", message = "waiting for the operator to report status"}
if obj.status == nil then
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "the operator has not yet observed generation " .. generation
  return hs
end
local byType = {}
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    byType[condition.type] = condition
  end
end
local function isTrue(name)
  return byType[name] ~= nil and byType[name].status == "True"
end
local function says(name)
  local c = byType[name]
  if c == nil then
    return ""
  end
  return (c.reason or "") .. ": " .. (c.message or "")
end
if isTrue("Stalled") then
  hs.status = "Degraded"
  hs.message = says("Stalled")
elseif isTrue("Ready") and not isTrue("Reconciling") then
  hs.status = "Healthy"
  hs.message = says("Ready")
elseif byType["Reconciling"] ~= nil then
  hs.message = says("Reconciling")
elseif byType["Ready"] ~= nil then
  hs.message = says("Ready")
end
return hs
