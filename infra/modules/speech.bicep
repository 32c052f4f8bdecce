// Azure AI Speech for IVR prompt previews (docs/voice.md): the text-to-speech REST API, called with the app's
// identity only (local auth off). Entra ID tokens need the resource's custom subdomain, which is also its endpoint.
param name string
param location string
param tags object
param identityPrincipalId string

@description('The ACS resource\'s own identity, which speaks the calls\' text messages through this account.')
param communicationPrincipalId string

@allowed(['F0', 'S0'])
param sku string = 'S0'

var speechUser = 'f2dc8367-1007-4938-bd23-fe263f013447'
// What ACS's documentation grants its identity on the connected AI resource.
var cognitiveServicesUser = 'a97b65f3-24c7-4388-baec-2e87135dc908'

resource speech 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'SpeechServices'
  sku: {
    name: sku
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource user 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(speech.id, identityPrincipalId, speechUser)
  scope: speech
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', speechUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource acs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(speech.id, communicationPrincipalId, cognitiveServicesUser)
  scope: speech
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesUser)
    principalId: communicationPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output endpoint string = speech.properties.endpoint
// https://{name}.cognitiveservices.azure.com/tts: the app appends /cognitiveservices/v1.
output ttsEndpoint string = '${speech.properties.endpoint}tts'
