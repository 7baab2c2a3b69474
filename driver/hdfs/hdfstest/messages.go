package hdfstest

// Go mirrors of the Hadoop messages the test cluster reads and writes, with the .proto
// field names as JSON keys (see wire.go). Only the fields the server uses are listed:
// unknown fields of a request are ignored, as protobuf does.

// Message full names.
const (
	msgRPCRequestHeader  = "hadoop.common.RpcRequestHeaderProto"
	msgRPCResponseHeader = "hadoop.common.RpcResponseHeaderProto"
	msgRequestHeader     = "hadoop.common.RequestHeaderProto"
	msgConnectionContext = "hadoop.common.IpcConnectionContextProto"

	msgOpReadBlock      = "hadoop.hdfs.OpReadBlockProto"
	msgOpWriteBlock     = "hadoop.hdfs.OpWriteBlockProto"
	msgBlockOpResponse  = "hadoop.hdfs.BlockOpResponseProto"
	msgPacketHeader     = "hadoop.hdfs.PacketHeaderProto"
	msgPipelineAck      = "hadoop.hdfs.PipelineAckProto"
	msgClientReadStatus = "hadoop.hdfs.ClientReadStatusProto"
)

type rpcRequestHeader struct {
	RPCKind  string `json:"rpcKind"`
	RPCOp    string `json:"rpcOp"`
	CallID   int32  `json:"callId"`
	ClientID []byte `json:"clientId"`
}

type rpcResponseHeader struct {
	CallID              uint32 `json:"callId"`
	Status              string `json:"status"`
	ServerIPCVersionNum uint32 `json:"serverIpcVersionNum"`
	ExceptionClassName  string `json:"exceptionClassName,omitempty"`
	ErrorMsg            string `json:"errorMsg,omitempty"`
	ErrorDetail         string `json:"errorDetail,omitempty"`
	ClientID            []byte `json:"clientId,omitempty"`
	RetryCount          int32  `json:"retryCount"`
}

type requestHeader struct {
	MethodName                 string `json:"methodName"`
	DeclaringClassProtocolName string `json:"declaringClassProtocolName"`
	ClientProtocolVersion      uint64 `json:"clientProtocolVersion,string"`
}

type connectionContext struct {
	UserInfo *struct {
		EffectiveUser string `json:"effectiveUser"`
		RealUser      string `json:"realUser"`
	} `json:"userInfo"`
	Protocol string `json:"protocol"`
}

type fsPermission struct {
	Perm uint32 `json:"perm"`
}

type extendedBlock struct {
	PoolID          string `json:"poolId"`
	BlockID         uint64 `json:"blockId,string"`
	GenerationStamp uint64 `json:"generationStamp,string"`
	NumBytes        uint64 `json:"numBytes,string"`
}

type tokenProto struct {
	Identifier []byte `json:"identifier"`
	Password   []byte `json:"password"`
	Kind       string `json:"kind"`
	Service    string `json:"service"`
}

type datanodeID struct {
	IPAddr       string `json:"ipAddr"`
	HostName     string `json:"hostName"`
	DatanodeUUID string `json:"datanodeUuid"`
	XferPort     uint32 `json:"xferPort"`
	InfoPort     uint32 `json:"infoPort"`
	IPCPort      uint32 `json:"ipcPort"`
}

type datanodeInfo struct {
	ID         datanodeID `json:"id"`
	Capacity   uint64     `json:"capacity,string"`
	Remaining  uint64     `json:"remaining,string"`
	LastUpdate uint64     `json:"lastUpdate,string"`
	AdminState string     `json:"adminState"`
}

type locatedBlock struct {
	B            extendedBlock  `json:"b"`
	Offset       uint64         `json:"offset,string"`
	Locs         []datanodeInfo `json:"locs"`
	Corrupt      bool           `json:"corrupt"`
	BlockToken   tokenProto     `json:"blockToken"`
	StorageTypes []string       `json:"storageTypes,omitempty"`
	StorageIDs   []string       `json:"storageIDs,omitempty"`
}

type locatedBlocks struct {
	FileLength          uint64         `json:"fileLength,string"`
	Blocks              []locatedBlock `json:"blocks"`
	UnderConstruction   bool           `json:"underConstruction"`
	LastBlock           *locatedBlock  `json:"lastBlock,omitempty"`
	IsLastBlockComplete bool           `json:"isLastBlockComplete"`
}

type fileStatus struct {
	FileType         string       `json:"fileType"`
	Path             []byte       `json:"path"`
	Length           uint64       `json:"length,string"`
	Permission       fsPermission `json:"permission"`
	Owner            string       `json:"owner"`
	Group            string       `json:"group"`
	ModificationTime uint64       `json:"modification_time,string"`
	AccessTime       uint64       `json:"access_time,string"`
	BlockReplication uint32       `json:"block_replication"`
	Blocksize        uint64       `json:"blocksize,string"`
	FileID           uint64       `json:"fileId,string"`
	ChildrenNum      int32        `json:"childrenNum"`
	StoragePolicy    uint32       `json:"storagePolicy"`
}

// ClientNamenodeProtocol requests and responses.

type srcReq struct {
	Src string `json:"src"`
}

type getListingReq struct {
	Src          string `json:"src"`
	StartAfter   []byte `json:"startAfter"`
	NeedLocation bool   `json:"needLocation"`
}

type directoryListing struct {
	PartialListing   []fileStatus `json:"partialListing"`
	RemainingEntries uint32       `json:"remainingEntries"`
}

type getListingResp struct {
	DirList *directoryListing `json:"dirList,omitempty"`
}

type fileStatusResp struct {
	FS *fileStatus `json:"fs,omitempty"`
}

type resultResp struct {
	Result bool `json:"result"`
}

type mkdirsReq struct {
	Src          string       `json:"src"`
	Masked       fsPermission `json:"masked"`
	CreateParent bool         `json:"createParent"`
}

type createReq struct {
	Src          string       `json:"src"`
	Masked       fsPermission `json:"masked"`
	ClientName   string       `json:"clientName"`
	CreateFlag   uint32       `json:"createFlag"`
	CreateParent bool         `json:"createParent"`
	Replication  uint32       `json:"replication"`
	BlockSize    uint64       `json:"blockSize,string"`
}

type addBlockReq struct {
	Src        string         `json:"src"`
	ClientName string         `json:"clientName"`
	Previous   *extendedBlock `json:"previous"`
	FileID     uint64         `json:"fileId,string"`
}

type blockResp struct {
	Block locatedBlock `json:"block"`
}

type completeReq struct {
	Src        string         `json:"src"`
	ClientName string         `json:"clientName"`
	Last       *extendedBlock `json:"last"`
	FileID     uint64         `json:"fileId,string"`
}

type updateBlockReq struct {
	Block      extendedBlock `json:"block"`
	ClientName string        `json:"clientName"`
}

type getBlockLocationsReq struct {
	Src    string `json:"src"`
	Offset uint64 `json:"offset,string"`
	Length uint64 `json:"length,string"`
}

type getBlockLocationsResp struct {
	Locations *locatedBlocks `json:"locations,omitempty"`
}

type serverDefaults struct {
	BlockSize           uint64 `json:"blockSize,string"`
	BytesPerChecksum    uint32 `json:"bytesPerChecksum"`
	WritePacketSize     uint32 `json:"writePacketSize"`
	Replication         uint32 `json:"replication"`
	FileBufferSize      uint32 `json:"fileBufferSize"`
	EncryptDataTransfer bool   `json:"encryptDataTransfer"`
	TrashInterval       uint64 `json:"trashInterval,string"`
	ChecksumType        string `json:"checksumType"`
}

type getServerDefaultsResp struct {
	ServerDefaults serverDefaults `json:"serverDefaults"`
}

type rename2Req struct {
	Src           string `json:"src"`
	Dst           string `json:"dst"`
	OverwriteDest bool   `json:"overwriteDest"`
}

type deleteReq struct {
	Src       string `json:"src"`
	Recursive bool   `json:"recursive"`
}

type renewLeaseReq struct {
	ClientName string `json:"clientName"`
}

type appendReq struct {
	Src        string `json:"src"`
	ClientName string `json:"clientName"`
	Flag       uint32 `json:"flag"` // CreateFlag bits; NEW_BLOCK asks for a fresh block
}

type appendResp struct {
	Block *locatedBlock `json:"block,omitempty"`
	Stat  *fileStatus   `json:"stat,omitempty"`
}

type fsyncReq struct {
	Src             string `json:"src"`
	Client          string `json:"client"`
	LastBlockLength int64  `json:"lastBlockLength,string"` // the proto's default is -1: no length
	FileID          uint64 `json:"fileId,string"`
}

type truncateReq struct {
	Src        string `json:"src"`
	NewLength  uint64 `json:"newLength,string"`
	ClientName string `json:"clientName"`
}

type recoverLeaseReq struct {
	Src        string `json:"src"`
	ClientName string `json:"clientName"`
}

type setPermissionReq struct {
	Src        string       `json:"src"`
	Permission fsPermission `json:"permission"`
}

type setOwnerReq struct {
	Src       string  `json:"src"`
	Username  *string `json:"username"`
	Groupname *string `json:"groupname"`
}

type setTimesReq struct {
	Src   string `json:"src"`
	Mtime uint64 `json:"mtime,string"`
	Atime uint64 `json:"atime,string"`
}

// DataTransferProtocol messages.

type baseHeader struct {
	Block extendedBlock `json:"block"`
	Token *tokenProto   `json:"token"`
}

type clientOpHeader struct {
	BaseHeader baseHeader `json:"baseHeader"`
	ClientName string     `json:"clientName"`
}

type checksumProto struct {
	Type             string `json:"type"`
	BytesPerChecksum uint32 `json:"bytesPerChecksum"`
}

type opReadBlock struct {
	Header        clientOpHeader `json:"header"`
	Offset        uint64         `json:"offset,string"`
	Len           uint64         `json:"len,string"`
	SendChecksums *bool          `json:"sendChecksums"` // default true
}

type opWriteBlock struct {
	Header                clientOpHeader `json:"header"`
	Targets               []datanodeInfo `json:"targets"`
	Stage                 string         `json:"stage"`
	PipelineSize          uint32         `json:"pipelineSize"`
	MinBytesRcvd          uint64         `json:"minBytesRcvd,string"`
	MaxBytesRcvd          uint64         `json:"maxBytesRcvd,string"`
	LatestGenerationStamp uint64         `json:"latestGenerationStamp,string"`
	RequestedChecksum     checksumProto  `json:"requestedChecksum"`
}

type readOpChecksumInfo struct {
	Checksum    checksumProto `json:"checksum"`
	ChunkOffset uint64        `json:"chunkOffset,string"`
}

type blockOpResponse struct {
	Status             string              `json:"status"`
	FirstBadLink       *string             `json:"firstBadLink,omitempty"`
	ReadOpChecksumInfo *readOpChecksumInfo `json:"readOpChecksumInfo,omitempty"`
	Message            string              `json:"message,omitempty"`
}

type packetHeader struct {
	OffsetInBlock     int64 `json:"offsetInBlock,string"`
	Seqno             int64 `json:"seqno,string"`
	LastPacketInBlock bool  `json:"lastPacketInBlock"`
	DataLen           int32 `json:"dataLen"`
	SyncBlock         bool  `json:"syncBlock,omitempty"` // hsync: durable before the ack
}

type pipelineAck struct {
	Seqno int64    `json:"seqno,string"`
	Reply []string `json:"reply"`
	Flag  []uint32 `json:"flag,omitempty"`
}

type clientReadStatus struct {
	Status string `json:"status"`
}
