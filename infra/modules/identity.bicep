// The one user-assigned identity the app uses for everything: storage (runtime and deployment package),
// Key Vault references and Application Insights ingestion. One identity keeps the role assignments in one place.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
