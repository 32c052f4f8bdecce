// Azure Communication Services for the IVR's calls (docs/voice.md): the resource that holds the numbers (toll-free
// ones bought in Azure, carriers' DDD numbers over direct routing) and runs Call Automation, with its data kept in
// Brazil, and the Event Grid system topic its IncomingCall events leave through (the subscription to the app is
// acsevents.bicep, made once the app's code answers the handshake). The app calls Call Automation with its
// user-assigned identity: no access key is read or passed anywhere.
param name string
param tags object
param identityPrincipalId string

@description('Where ACS keeps its data at rest (a geography, not a region).')
param dataLocation string = 'Brazil'

// Call Automation documents no narrower built-in data role for an Entra identity than Contributor on the resource.
var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: name
  // ACS resources are global; dataLocation is what decides where their data lives.
  location: 'global'
  tags: tags
  // Its own identity is what plays TextSource messages through the AI resource (speech.bicep grants it there).
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    dataLocation: dataLocation
  }
}

resource callAutomation 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, identityPrincipalId, contributor)
  scope: communication
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource events 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: '${name}-events'
  location: 'global'
  tags: tags
  properties: {
    source: communication.id
    topicType: 'Microsoft.Communication.CommunicationServices'
  }
}

output name string = communication.name
output endpoint string = 'https://${communication.properties.hostName}'
output systemTopicName string = events.name
output principalId string = communication.identity.principalId
