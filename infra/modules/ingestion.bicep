// Data collection rule for the Logs Ingestion API. kind Direct gives the rule its own logs
// ingestion endpoint, so no separate data collection endpoint is needed.

param name string

@description('Region of the rule. Microsoft Learn (Logs Ingestion API overview) requires the rule and its destination workspace to be in the same region, so pass the workspace region.')
param location string

param tags object = {}

@description('Resource id of the destination Log Analytics workspace.')
param workspaceResourceId string

@description('Name of the destination custom table. Pass the table module output, so the rule is created after the table exists.')
param tableName string

@description('Columns as objects with name and type, in the same order and with the same types as the table.')
param columns array

// The input stream name is fixed because Bicep object keys cannot come from a parameter in
// every tool that reads these templates. The function app sends to this stream.
var inputStreamName = 'Custom-IPReputation_CL'
var destinationName = 'sentinelWorkspace'

resource rule 'Microsoft.Insights/dataCollectionRules@2024-03-11' = {
  name: name
  location: location
  tags: tags
  kind: 'Direct'
  properties: {
    description: 'Receives IP reputation rows from the sentinel-ip-enrich function app.'
    streamDeclarations: {
      'Custom-IPReputation_CL': {
        // Stream declarations spell dateTime as datetime, so every type is lowercased.
        columns: [for column in columns: {
          name: column.name
          type: toLower(column.type)
        }]
      }
    }
    destinations: {
      logAnalytics: [
        {
          name: destinationName
          workspaceResourceId: workspaceResourceId
        }
      ]
    }
    dataFlows: [
      {
        streams: [
          inputStreamName
        ]
        destinations: [
          destinationName
        ]
        transformKql: 'source'
        outputStream: 'Custom-${tableName}'
      }
    ]
  }
}

output name string = rule.name
output id string = rule.id
output immutableId string = rule.properties.immutableId
output logsIngestionEndpoint string = rule.properties.endpoints.logsIngestion
output streamName string = inputStreamName
