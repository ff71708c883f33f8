// Custom table for the enrichment rows, created in the existing Sentinel workspace.
// Deploy this module with scope resourceGroup(workspace subscription, workspace resource group).

param workspaceName string

@description('Table name. Custom tables fed by the Logs Ingestion API must end in _CL.')
param tableName string

@description('Columns as objects with name, type (string, int, long, real, boolean, dateTime, guid or dynamic) and description.')
param columns array

@description('Interactive (Analytics plan) retention in days. The tables API accepts 4 to 730.')
@minValue(4)
@maxValue(730)
param retentionInDays int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource table 'Microsoft.OperationalInsights/workspaces/tables@2023-09-01' = {
  parent: workspace
  name: tableName
  properties: {
    plan: 'Analytics'
    retentionInDays: retentionInDays
    schema: {
      name: tableName
      columns: columns
    }
  }
}

output tableName string = table.name
