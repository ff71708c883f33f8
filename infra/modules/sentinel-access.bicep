// One Microsoft Sentinel role on the existing workspace for one managed identity.
// Deploy this module with scope resourceGroup(workspace subscription, workspace resource group).

param workspaceName string

@description('Object id of the managed identity that receives the role.')
param principalId string

@description('Microsoft Sentinel Responder lets the identity comment on and update incidents. Microsoft Sentinel Reader is enough for a playbook that only receives incidents.')
@allowed([
  'Microsoft Sentinel Responder'
  'Microsoft Sentinel Reader'
])
param roleName string

// Built-in role definition ids, the same in every tenant (Microsoft Learn, Azure built-in roles).
var roles = {
  'Microsoft Sentinel Responder': '3e150937-b8fe-4cfb-8069-0eaf05ecd056'
  'Microsoft Sentinel Reader': '8d289c81-5878-46d4-8554-54e1e3d8b5cb'
}

var roleDefinitionId = roles[roleName]

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, roleDefinitionId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
