// Workspace-based Application Insights for the Functions host. Local (instrumentation key)
// authentication is disabled, so the host sends telemetry with its managed identity, which
// needs Monitoring Metrics Publisher on this component.

param name string

param location string

param tags object = {}

@description('Resource id of the Log Analytics workspace that stores the telemetry.')
param workspaceResourceId string

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: name
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspaceResourceId
    DisableLocalAuth: true
  }
}

output name string = appInsights.name
output connectionString string = appInsights.properties.ConnectionString
